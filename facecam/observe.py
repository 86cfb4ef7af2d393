"""What follows a live source's tracks frame after frame. The history's recorder, the notification
watch, the JSON events of `recognize --json` and the server's event feed are all Observers: after
every processed frame each is told the same Seen, in order, and closed when the source ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from .align import canonical_crop


@dataclass
class Seen:
    """One processed frame of one source. frame: sources.Frame (index, time in the video, image);
    tracks: the tracks visible in it; matched: those of them embedded and matched in it; alive:
    every track the tracker still follows (one missing from it has ended)."""

    frame: object
    tracks: list
    matched: list
    alive: list
    _crops: dict = field(default_factory=dict, repr=False)

    def crop(self, track) -> tuple[np.ndarray, np.ndarray]:
        """The track's canonical 224x224 face crop in this frame and its landmarks in the crop
        (align.canonical_crop), cut once for every observer that asks."""
        if track.id not in self._crops:
            self._crops[track.id] = canonical_crop(self.frame.image, track.face.landmarks)
        return self._crops[track.id]


class Observer(Protocol):
    def update(self, seen: Seen) -> None:
        """After every processed frame; must not block (slow work goes to a thread of its own)."""

    def close(self) -> None:
        """The source ended (its last frame, the user quit, a stream lost for good)."""


class MatchEvents:
    """`recognize --json`'s recognition events: one JSON object per track matched in a frame,
    {"frame", "time", "track_id", "name", "score", "box"} (and "source" with several sources,
    "live" and "liveness" with liveness checks)."""

    def __init__(self, write: Callable[[dict], None], source: str | None = None):
        self.write, self.source = write, source

    def update(self, seen: Seen) -> None:
        for track in seen.matched:
            event = {"frame": seen.frame.index, "time": round(seen.frame.time, 3), "track_id": track.id,
                     "name": track.name, "score": track.score, "box": [round(float(v), 1) for v in track.face.box]}
            if track.live is not None:  # recognising with liveness checks
                event["live"], event["liveness"] = track.live, track.liveness
            self.write(event if self.source is None else {"source": self.source, **event})

    def close(self) -> None:
        pass
