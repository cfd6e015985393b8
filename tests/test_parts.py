"""The judge's GGUF from parts: missing, resized, altered and reordered parts are named; no half file is ever left."""

import errno
import hashlib
import sys
from pathlib import Path

import pytest

from helpers import parts, qwen
from helpers.parts import PartedGGUF, PartError, assemble_gguf, locate_parts

PART_DATA = [b"alpha-" * 100, b"bravo-" * 100, b"char"]


def make_spec(**changes) -> PartedGGUF:
    """Return the spec of a three-part file made of PART_DATA, installed as packages kitfake_part1..3."""
    whole = b"".join(PART_DATA)
    fields = dict(
        name="Fake-Model", distribution="kitfake-part{n}", version="1.0", part_file="data/part{n:02d}.bin",
        part_sizes=tuple(len(d) for d in PART_DATA), part_sha256=tuple(hashlib.sha256(d).hexdigest() for d in PART_DATA),
        size=len(whole), sha256=hashlib.sha256(whole).hexdigest(), requirements="requirements-judge.txt",
    )
    return PartedGGUF(**{**fields, **changes})


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Install the fake parts as packages on sys.path (as pip would), with code that must never run."""
    site = tmp_path / "site"
    for n, data in enumerate(PART_DATA, 1):
        package = site / f"kitfake_part{n}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise SystemExit('a part package was imported')\n")
        (package / "data" / f"part{n:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    return site


def part_path(site: Path, n: int) -> Path:
    return site / f"kitfake_part{n}" / "data" / f"part{n:02d}.bin"


def test_assembles_in_order_without_importing(installed, tmp_path):
    target = assemble_gguf(make_spec(), tmp_path / "out" / "model.gguf")
    assert target.read_bytes() == b"".join(PART_DATA)
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.gguf"]
    assert not [name for name in sys.modules if name.startswith("kitfake_part")]


def test_missing_part_is_named_with_the_fix(installed, tmp_path):
    part_path(installed, 2).unlink()
    with pytest.raises(PartError) as error:
        assemble_gguf(make_spec(), tmp_path / "model.gguf")
    message = str(error.value)
    assert "kitfake-part2==1.0" in message and "kitfake-part1" not in message
    assert "--require-hashes" in message and "make venv" in message
    assert not list(tmp_path.glob("model.gguf*"))


def test_uninstalled_package_is_named(installed):
    with pytest.raises(PartError, match=r"Thiếu 1/4 phần .*kitfake-part4==1\.0"):
        locate_parts(make_spec(part_sizes=(1, 1, 1, 1), part_sha256=("a", "b", "c", "d")))


def test_wrong_size_is_refused_before_writing(installed, tmp_path):
    part_path(installed, 3).write_bytes(b"chars")
    with pytest.raises(PartError, match=r"Phần 3 .*có 5 byte, cần 4"):
        assemble_gguf(make_spec(), tmp_path / "model.gguf")
    assert not list(tmp_path.glob("model.gguf*"))


def test_altered_part_is_named_and_no_half_file_is_left(installed, tmp_path):
    data = bytearray(PART_DATA[1])
    data[10] ^= 1
    part_path(installed, 2).write_bytes(bytes(data))
    with pytest.raises(PartError, match=r"Phần 2 .*kitfake-part2==1\.0.*bị thay đổi"):
        assemble_gguf(make_spec(), tmp_path / "model.gguf")
    assert not list(tmp_path.glob("model.gguf*"))


def test_swapped_parts_are_reported_as_out_of_order(installed, tmp_path):
    same = [b"x" * 8, b"y" * 8]
    spec = make_spec(part_sizes=(8, 8), part_sha256=tuple(hashlib.sha256(d).hexdigest() for d in same),
                     size=16, sha256=hashlib.sha256(b"".join(same)).hexdigest())
    part_path(installed, 1).write_bytes(same[1])
    part_path(installed, 2).write_bytes(same[0])
    with pytest.raises(PartError, match=r"Phần 1 .*chứa dữ liệu của phần 2 \(sai thứ tự\)"):
        assemble_gguf(spec, tmp_path / "model.gguf")


def test_whole_file_hash_mismatch_is_refused(installed, tmp_path):
    with pytest.raises(PartError, match=r"ghép từ 3 phần .*sha256"):
        assemble_gguf(make_spec(sha256="0" * 64), tmp_path / "model.gguf")
    assert not list(tmp_path.glob("model.gguf*"))


def test_a_previous_file_survives_a_failed_assembly(installed, tmp_path):
    target = tmp_path / "model.gguf"
    target.write_bytes(b"earlier good file")
    part_path(installed, 1).write_bytes(b"?" * len(PART_DATA[0]))
    with pytest.raises(PartError):
        assemble_gguf(make_spec(), target)
    assert target.read_bytes() == b"earlier good file"


def test_full_disk_says_so_and_cleans_up(installed, tmp_path, monkeypatch):
    real_open = open

    class FullFile:
        def __init__(self, path):
            self.file = real_open(path, "wb")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, chunk):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(parts, "open", lambda path, mode="r": FullFile(path) if "w" in mode else real_open(path, mode),
                        raising=False)
    with pytest.raises(PartError, match="Hết chỗ trên đĩa.*KIT_CACHE_DIR"):
        assemble_gguf(make_spec(), tmp_path / "model.gguf")
    assert not list(tmp_path.glob("model.gguf*"))


def test_requirements_pin_every_part_of_every_judge_by_hash():
    lines = [line.split() for line in Path(qwen.REQUIREMENTS).read_text().splitlines() if line and not line.startswith("#")]
    pinned = {requirement: options for requirement, *options in lines}
    for spec in qwen.JUDGE_MODELS.values():
        assert spec.requirements == qwen.REQUIREMENTS
        assert len(spec.part_sizes) == spec.count and sum(spec.part_sizes) == spec.size
        for n in range(1, spec.count + 1):
            (option,) = pinned.pop(spec.requirement(n))
            assert option.startswith("--hash=sha256:") and len(option) == len("--hash=sha256:") + 64
    assert not pinned  # nothing else in the file


def test_the_converted_folder_is_reused_without_assembling(tmp_path, monkeypatch):
    spec = qwen.QWEN_1_5B
    monkeypatch.setattr(qwen, "locate_parts", lambda s: [Path("unused")] * s.count)
    monkeypatch.setattr(qwen, "assemble_gguf", lambda *a: pytest.fail("assembled again"))
    folder = tmp_path / "models" / spec.name
    folder.mkdir(parents=True)
    from helpers.models import MARKER

    (folder / MARKER).write_text(__import__("json").dumps(qwen.describe_parted(spec)))
    assert qwen.ensure_judge_model(spec.name, tmp_path) == folder


def test_a_failed_conversion_removes_the_assembled_file(tmp_path, monkeypatch):
    spec = qwen.QWEN_0_5B
    monkeypatch.setattr(qwen, "locate_parts", lambda s: [Path("unused")] * s.count)

    def assemble(spec, target, paths):
        target.parent.mkdir(parents=True)
        target.write_bytes(b"gguf")
        return target

    def convert(*args, **kwargs):
        raise MemoryError("conversion failed")

    monkeypatch.setattr(qwen, "assemble_gguf", assemble)
    monkeypatch.setattr(qwen, "convert_gguf", convert)
    with pytest.raises(MemoryError):
        qwen.ensure_judge_model(spec.name, tmp_path)
    assert not list((tmp_path / "gguf").iterdir())
    assert not (tmp_path / "models" / spec.name).exists()
