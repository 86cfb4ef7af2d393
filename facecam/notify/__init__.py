"""Acting on what is seen: presence (arrived, left), alerts for strangers (unknown), and where
they go: MQTT with Home Assistant discovery, signed webhooks, JSON lines, the server's /events.

Events (the same JSON everywhere):
    {"event": "arrived", "source": "door", "name": "Alice", "score": 0.91, "time": ISO,
     "track_id": 3, "sighting": 17}
    {"event": "left", ..., "since": ISO, "last_seen": ISO}
    {"event": "unknown", "name": null, ..., "group": 2}
"sighting" is the history's id of the sighting (GET /sightings/{id}/face), null without a history;
with snapshots an event about a face also carries it, "snapshot": base64 JPEG (224x224).
"""

from __future__ import annotations



class JsonLines:
    """Events as {"notification": {...}} lines on stdout (recognize --json)."""

    def __init__(self, write):
        self.write = write

    def send(self, body: dict, snapshot: bytes | None) -> None:
        self.write({"notification": body})

    def people(self, names: set[str]) -> None:
        pass

    def close(self, deadline: float) -> None:
        pass


def __getattr__(name: str):
    """The notifier and presence on first use: the command line reads the sinks' table
    (notify.sinks) without loading NumPy or the history."""
    if name in ("Notifier", "Sink", "Watch"):
        from . import notifier

        return getattr(notifier, name)
    if name in ("Event", "Observation", "Presence", "TrackSeen"):
        from . import presence

        return getattr(presence, name)
    raise AttributeError(f"module 'facecam.notify' has no attribute {name!r}")


__all__ = ["Event", "JsonLines", "Notifier", "Observation", "Presence", "TrackSeen", "Sink", "Watch"]
