"""`facecam cameras`: the local cameras, so that --camera N means something."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import ui
from .options import JsonOpt

app = typer.Typer()


@app.command()
def cameras(
    json_out: JsonOpt = False,
    probe: Annotated[bool, typer.Option(help="Ask each camera for the common sizes, to list those it accepts (slower).")] = True,
) -> None:
    """The cameras on this machine: index (for --camera), device, name, current size and format,
    and the common sizes each accepts."""
    from ..cameras import list_cameras

    found = list_cameras(probe_sizes=probe)
    for camera in found:
        if json_out:
            ui.json_line(camera)
    if not json_out and found:
        ui.table(None, ["--camera", "device", "name", "now", "sizes it accepts"],
                 [[c["index"], c["device"] or "-", c["name"] or "-",
                   f"{c['size'][0]}x{c['size'][1]} {c['fps']:g} fps {c['fourcc'] or ''}".strip(), ", ".join(c["sizes"]) or "-"]
                  for c in found])
    if not found:
        ui.info("no cameras found (no video capture device opens on this machine)")
