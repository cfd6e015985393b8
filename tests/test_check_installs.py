"""The install matrix's own parts: the stand-in torch wheel pip accepts, the platform tags, the targets."""

import subprocess
import sys
from pathlib import Path

from coursetools import installs as check_installs

ROOT = Path(__file__).resolve().parent.parent


def test_targets_cover_the_pythons_platforms_and_colab():
    names = {target.name for target in check_installs.TARGETS}
    for python in ("3.11", "3.12", "3.13"):
        assert f"linux-x86_64-py{python}" in names
    assert {"macos14-arm64-py3.12", "macos14-arm64-py3.13", "colab-py3.13"} <= names
    colab = next(target for target in check_installs.TARGETS if target.name == "colab-py3.13")
    assert colab.requirements == "requirements-colab.txt" and set(colab.keeps) == {"torch", "numpy", "ipykernel", "ipywidgets"}
    assert check_installs.read_pin("torch") == check_installs.read_pin("torch", ROOT / "requirements.txt")


def test_platform_tags_reach_back_to_manylinux2014_and_macos_11():
    tags = check_installs.manylinux("x86_64")
    assert tags[0] == "manylinux_2_35_x86_64" and "manylinux_2_31_x86_64" in tags and tags[-1] == "manylinux2014_x86_64"
    assert "macosx_11_0_arm64" in check_installs.macos_arm64() and check_installs.macos_arm64()[0] == "macosx_14_0_arm64"


def test_stand_in_wheel_satisfies_a_dependent_without_pulling_anything(tmp_path):
    wheel = check_installs.write_empty_wheel(tmp_path, "torch", "2.13.0+kitcheck")
    target = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--find-links", str(tmp_path),
         "--target", str(target), "torch>=2.0"], capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (target / "torch-2.13.0+kitcheck.dist-info" / "METADATA").is_file() and wheel.name.endswith("py3-none-any.whl")


def test_dependencies_are_judged_by_the_target_markers_not_this_machine():
    mac = next(target for target in check_installs.TARGETS if target.name == "macos14-arm64-py3.13")
    linux = next(target for target in check_installs.TARGETS if target.name == "linux-x86_64-py3.11")
    assert mac.platforms[0] == "macosx_14_0_arm64" and linux.platforms[0] == "manylinux_2_35_x86_64"
    installs = [{"metadata": {"name": "ipykernel", "version": "7.4.0", "requires_dist": [
        "appnope>=0.1.2; platform_system == 'Darwin'", "comm>=0.1.1", "nvidia-nccl-cu13; platform_system == 'Linux'",
        "old-helper; python_version < '3.12'", "pytest; extra == 'test'"]}},
        {"metadata": {"name": "comm", "version": "0.2.3", "requires_dist": None}}]
    assert check_installs.find_unmet(installs, mac.environment()) == ["appnope>=0.1.2"]
    assert check_installs.find_unmet(installs, linux.environment()) == ["old-helper"]
    installs[1]["metadata"]["version"] = "0.1.0"  # resolved, but too old for the requirement
    assert "comm>=0.1.1" in check_installs.find_unmet(installs, linux.environment())
