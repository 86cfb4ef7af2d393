"""`facecam notify test`: send one test event to each place events go and say whether it arrived."""

from __future__ import annotations

import time

import typer

from .. import ui
from ..errors import NotifyError, UsageError, worded
from .options import sink_options

notify_app = typer.Typer(help="Check where events go (MQTT, webhooks).", no_args_is_help=True)


@notify_app.command("test")
@sink_options()
def test(sinks) -> None:
    """Send one {"event": "test"} to the broker (PREFIX/events) and to each webhook; exit 1 unless
    every one of them took it."""
    from ..history import iso
    from ..notify.sinks import targets

    chosen = targets(sinks)
    if not chosen:
        raise UsageError("say where to send it: --mqtt URL and/or --webhook URL")
    body = {"event": "test", "source": "facecam notify test", "name": None, "score": None, "time": iso(time.time()),
            "sighting": None}
    failures = 0
    for kind, where in chosen:  # each is tried, whatever the one before did
        try:
            ui.info(kind.test(where, sinks, body))
        except NotifyError as err:
            ui.error(worded(err, flags=True))
            failures += 1
    if failures:
        raise typer.Exit(1)
