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

from .notifier import Notifier, Sink, Watch
from .presence import Event, Observation, Presence, TrackSeen



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


__all__ = ["Event", "JsonLines", "Notifier", "Observation", "Presence", "TrackSeen",
           "Sink", "Watch"]
