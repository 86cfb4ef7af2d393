"""`facecam models import`: a user's own embedder weights, checked against their architecture
before they are copied and listed (catalog.add_imported)."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..storage import sha256_file
from .catalog import Entry, add_imported

TORCH_ARCHS = ("ir50", "iresnet50")


def import_model(path: Path, *, arch: str, name: str, threshold: float, replace: bool = False) -> Entry:
    """Check a .pth state dict against `arch` (ir50 or iresnet50), keep a copy, list it by `name`."""
    from . import irse

    if arch not in TORCH_ARCHS:
        raise UsageError(f"unknown architecture {arch!r}: use {', '.join(TORCH_ARCHS)}")
    irse.read_state_dict(path, arch)  # refuses a file that does not fit the architecture exactly
    entry = Entry(
        name=name, kind="embedder", arch=arch, format="torch-state-dict", default=False,
        source={"file": f"{name}.pth", "dir": "models", "imported_from": str(Path(path).resolve())},
        sha256=sha256_file(path), bytes=Path(path).stat().st_size, license="user-supplied",
        description=f"{arch} weights imported from {Path(path).name}", dim=512,
        input="112x112 RGB, ArcFace template", threshold=threshold,
        threshold_source="given at import (not calibrated by facecam)",
    )
    return add_imported(path, entry, replace=replace)
