"""Check that the pinned packages install where learners are: pip's resolver, binary wheels only, for each target.

Usage: python -m coursetools installs [TARGET ...]     (default: every target; exit 1 if one fails)

Only Python 3.11 runs on the machines that test this kit, so the other Pythons and platforms are checked with
pip's resolver (`pip install --dry-run --only-binary=:all: --python-version ... --platform ...`), not by running
the course there. For each target:
- the pinned set (requirements.txt, or requirements-colab.txt on Colab) must resolve from wheels alone;
- torch is checked on its own with --no-deps: pip here cannot resolve a CUDA torch's `nvidia-*` dependencies,
  so inside the set torch stands as a local wheel of the same version with torch's other dependencies;
- pip evaluates environment markers (`python_version`, `sys_platform`) for the machine it runs on, not for the
  target (pypa/pip#11664): every resolved package's dependencies are evaluated again for the target, and one
  that the target needs but the resolution lacks is reported;
- requirements-nodeps.txt (the offline model's package) must have a wheel;
- on Colab, the runtime's own torch, numpy, ipykernel and ipywidgets are constraints: the install may not change them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
JOBS = 4  # targets checked at once


def manylinux(arch: str, newest: int = 35) -> tuple[str, ...]:
    """Return the manylinux tags a glibc-2.`newest` Linux accepts (pip does not expand them for --platform)."""
    return tuple(f"manylinux_2_{minor}_{arch}" for minor in range(newest, 16, -1)) + (f"manylinux2014_{arch}",)


def macos_arm64(newest: int = 14) -> tuple[str, ...]:
    """Return the macOS arm64 tags that macOS `newest` accepts."""
    return tuple(f"macosx_{major}_0_{kind}" for major in range(newest, 10, -1) for kind in ("arm64", "universal2"))


@dataclass(frozen=True)
class Target:
    """One place learners install the course: a CPython version, platform tags, the files and fixed packages."""

    name: str
    python: str
    system: str  # platform.system() there: "Linux" or "Darwin"
    machine: str  # platform.machine() there: "x86_64", "aarch64" or "arm64"
    requirements: str = "requirements.txt"
    torch: str | None = None  # None: the pin in requirements.txt
    keeps: dict = field(default_factory=dict)  # packages the runtime ships and the install must not change

    @property
    def platforms(self) -> tuple[str, ...]:
        """Return the wheel platform tags this target accepts."""
        return manylinux(self.machine) if self.system == "Linux" else macos_arm64()

    def environment(self) -> dict:
        """Return the environment markers of this target (for dependencies that depend on the platform)."""
        return {**default_environment(), "python_version": self.python, "python_full_version": f"{self.python}.0",
                "sys_platform": self.system.lower(), "platform_system": self.system, "platform_machine": self.machine,
                "os_name": "posix", "implementation_name": "cpython", "platform_python_implementation": "CPython"}


# Colab's default runtime (googlecolab/backend-info, 2026-08): Ubuntu 22.04 (glibc 2.35), Python 3.13.
COLAB_KEEPS = {"torch": "2.11.0", "numpy": "2.1.3", "ipykernel": "6.17.1", "ipywidgets": "7.7.1"}
TARGETS = (
    Target("linux-x86_64-py3.11", "3.11", "Linux", "x86_64"),
    Target("linux-x86_64-py3.12", "3.12", "Linux", "x86_64"),
    Target("linux-x86_64-py3.13", "3.13", "Linux", "x86_64"),
    Target("linux-aarch64-py3.13", "3.13", "Linux", "aarch64"),
    Target("macos14-arm64-py3.12", "3.12", "Darwin", "arm64"),
    Target("macos14-arm64-py3.13", "3.13", "Darwin", "arm64"),
    Target("colab-py3.13", "3.13", "Linux", "x86_64", "requirements-colab.txt", COLAB_KEEPS["torch"], COLAB_KEEPS),
)


def read_pin(package: str, path: Path = ROOT / "requirements.txt") -> str:
    """Return the version pinned for ``package`` in a requirements file."""
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, pinned = line.strip().partition("==")
        if name.lower() == package.lower() and pinned:
            return pinned
    raise ValueError(f"{package} is not pinned in {path.name}")


def write_empty_wheel(folder: Path, name: str, version: str, requires: list[str] = ()) -> Path:
    """Write a wheel with metadata only (no files; the given dependencies) that pip can resolve against."""
    dist = f"{name}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{dist}.dist-info/METADATA": metadata,
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: coursetools-installs\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{f},,\n" for f in [*files, f"{dist}.dist-info/RECORD"])
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in files.items():
            wheel.writestr(member, text)
    return path


def pip_dry_run(target: Target, args: list[str], workdir: Path) -> tuple[bool, dict | str]:
    """Run ``pip install --dry-run`` for the target's Python and platform; return (ok, report or error tail)."""
    report = workdir / "report.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
               "--ignore-installed", "--target", str(workdir / "target"), "--only-binary=:all:",
               "--implementation", "cp", "--python-version", target.python,
               *[arg for platform in target.platforms for arg in ("--platform", platform)], *args]
    # This machine's pip configuration (a local wheel folder, a torch cap) must not answer for PyPI.
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if result.returncode:
        lines = [line for line in (result.stdout + result.stderr).splitlines() if "is ignored: it is neither" not in line]
        return False, "\n".join(lines[-8:])
    return True, json.loads(report.read_text())


def is_cuda(requirement: Requirement) -> bool:
    """Tell whether a requirement is one of a CUDA torch's `nvidia-*` or triton wheels (not resolvable here)."""
    return canonicalize_name(requirement.name).startswith(("nvidia-", "triton"))


def applies(requirement: Requirement, environment: dict) -> bool:
    """Tell whether a dependency applies on a target (its marker, no extras asked for)."""
    return not requirement.marker or requirement.marker.evaluate({**environment, "extra": ""})


def without_marker(requirement: Requirement) -> str:
    """Return a requirement as text without its environment marker."""
    return str(requirement).split(";")[0].strip()


def find_unmet(installs: list[dict], environment: dict) -> list[str]:
    """Return the dependencies (markers dropped) that the target needs and the resolved set lacks or gets wrong."""
    chosen = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in installs}
    unmet = []
    for item in installs:
        for requirement in map(Requirement, item["metadata"].get("requires_dist") or []):
            if is_cuda(requirement) or not applies(requirement, environment):  # CUDA: see the module docstring
                continue
            version = chosen.get(canonicalize_name(requirement.name))
            if version is None or not requirement.specifier.contains(version, prereleases=True):
                unmet.append(without_marker(requirement))
    return sorted(set(unmet))


def check(target: Target) -> list[str]:
    """Return the problems found for one target (empty when it installs)."""
    problems = []
    torch = target.torch or read_pin("torch")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ok, out = pip_dry_run(target, ["--no-deps", f"torch=={torch}"], workdir)
        if not ok:
            problems.append(f"torch=={torch} has no wheel:\n{out}")
        # torch's stand-in: a local version of the same release, so `torch>=x` in its dependents still holds,
        # with torch's own dependencies for this target (markers evaluated here, not by pip) but the CUDA ones.
        requires = [without_marker(r) for r in map(Requirement, out["install"][0]["metadata"].get("requires_dist") or [])
                    if not is_cuda(r) and applies(r, target.environment())] if ok else []
        wheels = workdir / "wheels"
        wheels.mkdir()
        write_empty_wheel(wheels, "torch", f"{torch}+kitcheck", requires)
        constraints = workdir / "constraints.txt"
        keeps = {**target.keeps, "torch": f"{torch}+kitcheck"}
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in keeps.items()))
        # Dependencies that only the target's markers ask for are added and resolved again (a few rounds at most).
        extra: list[str] = []
        for _ in range(3):
            ok, out = pip_dry_run(target, ["--find-links", str(wheels), "-c", str(constraints), "-r", target.requirements,
                                           *extra], workdir)
            if not ok:
                problems.append(f"{target.requirements} does not resolve{' with ' + ', '.join(extra) if extra else ''}:\n{out}")
                break
            unmet = find_unmet(out["install"], target.environment())
            if not unmet:
                chosen = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in out["install"]}
                for name, version in target.keeps.items():
                    if name in chosen and chosen[name].split("+")[0] != version:
                        problems.append(f"the install would change {name} {version} -> {chosen[name]}")
                break
            if set(unmet) <= set(extra):
                problems.append(f"{target.requirements}: still unmet for this target: {', '.join(unmet)}")
                break
            extra += sorted(set(unmet) - set(extra))
        else:
            problems.append(f"{target.requirements}: dependencies for this target still unmet after 3 rounds: {extra}")
        ok, out = pip_dry_run(target, ["--no-deps", "-r", "requirements-nodeps.txt"], workdir)
        if not ok:
            problems.append(f"requirements-nodeps.txt has no wheel:\n{out}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Check every target (or the named ones) and print one line each; exit 1 if any fails."""
    parser = argparse.ArgumentParser(prog="python -m coursetools installs", description=__doc__.split("\n", 1)[0])
    known = [t.name for t in TARGETS]
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="default: all of " + ", ".join(known))
    names = parser.parse_args(argv).targets or known
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(known)}")
    failed = 0
    chosen = [t for t in TARGETS if t.name in names]
    # Each check is a few pip resolutions that mostly wait on the package index: the targets run side by side (CI time),
    # their lines still print in TARGETS order.
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        results = [pool.submit(check, target) for target in chosen]
        for target, result in zip(chosen, results):
            problems = result.result()
            failed += bool(problems)
            print(f"{'ok  ' if not problems else 'FAIL'} {target.name} ({target.requirements})", flush=True)
            for problem in problems:
                print("     " + problem.replace("\n", "\n     "))
    return 1 if failed else 0
