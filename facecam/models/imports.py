"""`facecam models import`: a user's own embedder weights, checked against their architecture
before they are copied and listed (catalog.add_imported)."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..storage import sha256_file
from .catalog import Entry, add_imported



def import_model(path: Path, *, arch: str, name: str, threshold: float, replace: bool = False, **onnx_options) -> Entry:
    """Check a user's embedder against `arch`, keep a copy, list it by `name`: a .pth state dict
    of ir50 or iresnet50, or with arch "onnx" any ONNX embedder graph (onnx_options: input_size,
    layout, rgb, mean, std, as onnx_embedder.inspect takes them)."""
    from . import IMPORTABLE, irse

    if arch not in IMPORTABLE:
        raise UsageError(f"unknown architecture {arch!r}: use {', '.join(IMPORTABLE)}")
    if not Path(path).is_file():
        raise UsageError(f"{path}: no such weight file")
    if arch == "onnx":
        return _import_onnx(Path(path), name=name, threshold=threshold, replace=replace, **onnx_options)
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


def _import_onnx(path: Path, *, name: str, threshold: float, replace: bool, **options) -> Entry:
    from . import onnx_embedder

    spec, _ = onnx_embedder.inspect(path.read_bytes(), path, **options)
    digest = sha256_file(path)
    embedder = onnx_embedder.build(path, spec, name=name, sha256=digest, threshold=threshold)  # runs it once
    colour = "RGB" if spec.rgb else "BGR"
    entry = Entry(
        name=name, kind="embedder", arch="onnx", format="onnx", default=False,
        source={"file": f"{name}.onnx", "dir": "models", "imported_from": str(path.resolve()),
                "input": onnx_embedder.spec_json(spec)},
        sha256=digest, bytes=path.stat().st_size, license="user-supplied",
        description=f"ONNX embedder imported from {path.name}", dim=embedder.dim,
        input=f"{spec.width}x{spec.height} {colour} {spec.layout.upper()}, (x - {spec.mean:g}) / {spec.std:g}, ArcFace template",
        threshold=threshold, threshold_source="given at import (not calibrated by facecam)",
    )
    return add_imported(path, entry, replace=replace)
