"""`facecam config check FILE`: what a deployment file (recognize/serve --config) would run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .. import ui
from ..words import counted

config_app = typer.Typer(help="Deployment files: the sources and settings of recognize and serve in one TOML file.",
                         no_args_is_help=True)


@config_app.command("check")
def check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The deployment file (TOML).")],
    json_out: Annotated[bool, typer.Option("--json", help="What would run, as JSON.")] = False,
) -> None:
    """Read FILE as `serve --config FILE` would (every key and value checked, nothing opened or
    loaded) and say what would run: the sources with their masks, thresholds and away-after, the
    registry, the history and where events go. Passwords in URLs are shown as ***."""
    from ..notify.sinks import targets
    from ..validate import hide_password
    from .options import live_settings, with_config

    command = ctx.find_root().command.commands["serve"]
    with command.make_context("serve", ["--config", str(file)], parent=ctx.find_root()) as serving:
        values = with_config(dict(serving.params), serving)
        settings = live_settings(values, default_camera=False)
    disabled = values["filed_sources"].disabled if values.get("filed_sources") is not None else []
    sources = [{"name": s.name, "source": f"camera {s.camera}" if s.camera is not None else hide_password(s.path),
                "motion_mask": list(settings.motion_masks[s.name].given) if s.name in settings.motion_masks else [],
                "threshold": s.threshold if s.threshold is not None else settings.threshold,
                "away_after": s.away_after if s.away_after is not None else settings.away_after}
               for s in settings.sources]
    beside = "the registry's database" if isinstance(settings.registry, str) else "history.sqlite in the registry"
    history = None if not settings.keep_history else hide_password(settings.history) if settings.history else beside
    events = [f"{kind.name}: {hide_password(str(where))}" for kind, where in targets(settings.sinks)]
    if json_out:
        ui.out.print(json.dumps({"file": str(file), "sources": sources, "disabled": disabled, "registry": hide_password(str(settings.registry)),
                                 "history": history, "events": events, "motion": settings.motion}), soft_wrap=True)
        return
    ui.info(f"{file}: {counted(len(sources), 'source')}" + (f" ({', '.join(disabled)} disabled)" if disabled else "")
            + f"; registry {hide_password(str(settings.registry))}; history {history or 'none kept'}"
            + (f"; events to {', '.join(events)}" if events else "") + ("" if settings.motion else "; motion gate off"))
    ui.table(None, ["name", "source", "mask", "threshold", "away (s)"],
             [[s["name"], s["source"], " ".join(s["motion_mask"]) or "-",
               "default" if s["threshold"] is None else f"{s['threshold']:g}", f"{s['away_after']:g}"] for s in sources],
             empty="no sources: serve would show the web page and API only, and recognize would use camera 0",
             whole=("name", "source"))
