"""What the setup cell prints everywhere: the versions that matter and the preset this machine will use."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

SHOWN_PACKAGES = ("torch", "transformers", "distilabel")


def read_version(package: str) -> str:
    """Return an installed package's version, or a Vietnamese 'not installed'."""
    try:
        return version(package)
    except PackageNotFoundError:
        return "chưa cài"


def show_environment() -> None:
    """Print the Python/torch/transformers/distilabel versions and the preset chosen for this machine."""
    from helpers.presets import choose_preset

    import torch

    packages = " · ".join(f"{name} {read_version(name)}" for name in SHOWN_PACKAGES)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "không có (chạy trên CPU)"
    preset = choose_preset()
    print(f"Python {platform.python_version()} · {packages}")
    print(f"GPU: {gpu}")
    print(f"Preset: {preset.name} — {preset.description}")
