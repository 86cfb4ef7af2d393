"""Where events can go, one row per kind: its settings (the command line's options and the
deployment file's keys derive from them), the sinks they ask for, and how `facecam notify test`
checks them. A new kind of sink is its module, one row here, and its tests.

Every setting is named as the library names it (`mqtt_ca`); the command line shows it as
`--mqtt-ca`. `targets(values)` and `sinks(values, ...)` take {setting: value} for every row's
settings; a row's first setting says where its events go (None or empty: nowhere)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import Remedy, UsageError
from . import mqtt, webhook


@dataclass(frozen=True)
class Setting:
    name: str
    help: str
    default: object = None
    kind: type = str  # str or Path (a file that must exist)
    many: bool = False  # repeatable: a list of values
    envvar: str | None = None


@dataclass(frozen=True)
class SinkKind:
    settings: tuple[Setting, ...]  # the first one says where events go
    check: Callable  # (where) -> raises UsageError when it cannot be a place for events
    open: Callable  # (where, values, snapshots, warn) -> the Sink
    test: Callable  # (where, values, event body) -> what happened, or NotifyError

    @property
    def name(self) -> str:
        return self.settings[0].name


def _mqtt_sink(url: str, values: dict, snapshots: bool, warn) -> mqtt.MqttSink:
    discovery = values["mqtt_discovery"]
    return mqtt.MqttSink(url, ca=_file(values["mqtt_ca"]), snapshots=snapshots, warn=warn,
                         discovery=None if discovery.lower() == "none" else discovery.strip("/"))


def _webhook_sink(url: str, values: dict, snapshots: bool, warn) -> webhook.WebhookSink:
    return webhook.WebhookSink(url, secret=os.environ.get(webhook.SECRET_ENV) or None, warn=warn)


def _file(path) -> str | None:
    return None if path is None else str(path)


SINKS = (
    SinkKind(
        settings=(
            Setting("mqtt", "Publish events, presence and Home Assistant discovery to this broker: "
                            "mqtt://[user:password@]host[:port][/prefix] (mqtts:// for TLS) [env: FACECAM_MQTT].",
                    envvar="FACECAM_MQTT"),
            Setting("mqtt_ca", "CA certificate(s) to check an mqtts:// broker with [default: the system's].", kind=Path),
            Setting("mqtt_discovery", "Home Assistant's discovery prefix; 'none' announces nothing.",
                    default="homeassistant"),
        ),
        check=mqtt.parse_url,
        open=_mqtt_sink,
        test=lambda url, values, body: mqtt.send_test(url, body, ca=_file(values["mqtt_ca"])),
    ),
    SinkKind(
        settings=(Setting("webhook", "POST every event as JSON to this URL (repeat for several); signed when "
                                     "FACECAM_WEBHOOK_SECRET is set.", many=True),),
        check=webhook.check_url,
        open=_webhook_sink,
        test=lambda url, values, body: webhook.send_test(url, body, secret=os.environ.get(webhook.SECRET_ENV) or None),
    ),
)
SETTINGS = tuple(setting for kind in SINKS for setting in kind.settings)


def defaults() -> dict:
    """{setting: its default} for every row's settings."""
    return {s.name: ([] if s.many else s.default) for s in SETTINGS}


def targets(values: dict) -> list[tuple[SinkKind, str]]:
    """(kind, where) for each place the values send events to, checked (UsageError naming the
    setting); a row's other settings without its first are an error too."""
    found = []
    for kind in SINKS:
        where = values.get(kind.name)
        places = list(where or ()) if kind.settings[0].many else ([] if where is None else [where])
        for place in places:
            kind.check(place)
            found.append((kind, place))
        if not places:
            for extra in kind.settings[1:]:
                if values.get(extra.name) not in (None, extra.default):
                    raise UsageError(f"is a setting of {kind.name}, which is not given",
                                     Remedy("says where its events go", kind.name, "URL"), param=extra.name)
    return found


def sinks(values: dict, *, snapshots: bool, warn) -> list:
    """The sinks the values ask for, opened (they reach their receivers in the background)."""
    return [kind.open(where, values, snapshots, warn) for kind, where in targets(values)]
