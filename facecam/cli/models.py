"""`facecam models list | verify | import`: the weight files facecam knows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import ui
from ..models import ARCHITECTURES

models_app = typer.Typer(help="The weight files facecam knows: list, verify and import them.", no_args_is_help=True)


@models_app.command("list")
def models_list(
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per model on stdout.")] = False,
) -> None:
    """Every catalog entry: kind, architecture, source, whether the file is here and intact."""
    from ..models import catalog
    from ..storage import sha256_file

    rows = []
    for entry in catalog.entries():
        path = catalog.find(entry)
        ok = None if path is None else sha256_file(path) == entry.file_sha256
        info = {"name": entry.name, "kind": entry.kind, "arch": entry.arch, "default": entry.default,
                "dim": entry.dim, "input": entry.input, "source": entry.origin, "license": entry.license,
                "present": path is not None, "path": str(path) if path else None, "sha256": entry.sha256,
                "sha256_ok": ok, "threshold": entry.threshold}
        if json_out:
            ui.json_line(info)
        rows.append([entry.name + (" (default)" if entry.default else ""), entry.kind, entry.dim or "",
                     entry.input, "" if entry.threshold is None else entry.threshold,
                     "missing" if path is None else ("ok" if ok else "CORRUPT")])
    if not json_out:
        ui.table(None, ["name", "kind", "dim", "input", "threshold", "file"], rows)
        ui.info("sources, licences and paths: facecam models list --json")


@models_app.command("verify")
def models_verify() -> None:
    """Re-hash every weight file that is present; name each corrupt one and how to fix it."""
    from ..models import catalog
    from ..storage import sha256_file

    bad = 0
    for entry in catalog.entries():
        path = catalog.find(entry)
        if path is None:
            ui.info(f"{entry.name}: not present ({entry.origin})")
        elif sha256_file(path) == entry.file_sha256:
            ui.info(f"{entry.name}: ok ({path})")
        else:
            bad += 1
            ui.error(f"{entry.name}: {path} is corrupt (sha256 mismatch): {catalog.repair_hint(entry)}")
    if bad:
        raise typer.Exit(1)


@models_app.command("import")
def models_import(
    file: Annotated[Path, typer.Argument(help="The embedder's weights: a .pth state dict (ir50, iresnet50) or an .onnx graph (onnx).")],
    arch: Annotated[str, typer.Option(help="; ".join(f"{a.name}: {a.about}" for a in ARCHITECTURES if a.importable) + ".")],
    name: Annotated[Optional[str], typer.Option(help="The name to use with --model [default: the file name].")] = None,
    threshold: Annotated[float, typer.Option(min=-1.0, max=1.0, help="Default cosine threshold for this model.")] = 0.4,
    replace: Annotated[bool, typer.Option(help="Replace an imported model of the same name.")] = False,
    input_size: Annotated[Optional[str], typer.Option(help="onnx: the crop size WxH, when the graph does not fix it.")] = None,
    layout: Annotated[Optional[str], typer.Option(help="onnx: nchw or nhwc [default: read from the graph].")] = None,
    colour: Annotated[str, typer.Option(help="onnx: the channel order the network takes, rgb or bgr.")] = "rgb",
    mean: Annotated[Optional[float], typer.Option(help="onnx: subtracted from pixel values 0-255 [default: 0 when the graph normalises its "
        "input itself, else 127.5].")] = None,
    std: Annotated[Optional[float], typer.Option(help="onnx: what the pixel values are then divided by [default: 1 or 127.5, likewise].")] = None,
) -> None:
    """Check a weight file against its architecture, keep a copy, and make it usable as --model NAME."""
    from ..models.imports import import_model

    options = {}
    if arch == "onnx":
        if colour not in ("rgb", "bgr"):
            raise typer.BadParameter("must be rgb or bgr", param_hint="--colour")
        options = {"input_size": _size(input_size), "layout": layout, "rgb": colour == "rgb", "mean": mean, "std": std}
    elif any(v is not None for v in (input_size, layout, mean, std)):
        raise typer.BadParameter("--input-size, --layout, --mean and --std are for --arch onnx", param_hint="--arch")
    entry = import_model(file, arch=arch, name=name or file.stem, threshold=threshold, replace=replace, **options)
    ui.info(f"imported {entry.name} ({arch}, {entry.dim}-d, input {entry.input}, sha256 {entry.sha256[:16]}…); "
            f"use it with --model {entry.name}")


def _size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and 16 <= int(width) <= 1024 and 16 <= int(height) <= 1024):
        raise typer.BadParameter("must be WxH, e.g. 112x112", param_hint="--input-size")
    return int(width), int(height)
