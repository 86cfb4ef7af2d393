"""`facecam notify test`: send one test event to a broker or webhook and say whether it arrived."""

from __future__ import annotations

import os
import time

import typer

from .. import ui
from ..errors import NotifyError, UsageError, worded
from .app import app
from .options import MqttCaOpt, MqttOpt, WebhookOpt

notify = typer.Typer(help="Check where events go (MQTT, webhooks).", no_args_is_help=True)
app.add_typer(notify, name="notify")


@notify.command("test")
def test(mqtt: MqttOpt = None, mqtt_ca: MqttCaOpt = None, webhook: WebhookOpt = None) -> None:
    """Send one {"event": "test"} to the broker (PREFIX/events) and to each webhook; exit 1 unless
    every one of them took it."""
    from ..history import iso
    from ..notify.mqtt import send_test as mqtt_test
    from ..notify.webhook import SECRET_ENV
    from ..notify.webhook import send_test as webhook_test

    if mqtt is None and not webhook:
        raise UsageError("say where to send it: --mqtt URL and/or --webhook URL")
    body = {"event": "test", "source": "facecam notify test", "name": None, "score": None, "time": iso(time.time()),
            "sighting": None}
    failures = []
    targets = ([lambda: mqtt_test(mqtt, body, ca=str(mqtt_ca) if mqtt_ca else None)] if mqtt else []) + [
        (lambda url=url: webhook_test(url, body, secret=os.environ.get(SECRET_ENV) or None)) for url in webhook or ()]
    for send in targets:  # each is tried, whatever the one before did
        try:
            ui.info(send())
        except NotifyError as err:
            ui.error(worded(err, flags=True))
            failures.append(err)
    if failures:
        raise typer.Exit(1)
