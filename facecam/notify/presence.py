"""Who is present on a source, and which strangers are worth an alert.

A person is present on a source from the first frame a track carries their name until no track
has carried it for `away_after` seconds: "arrived", then "left". A face nobody enrolled raises
"unknown" once its track has stayed unknown for UNKNOWN_AFTER seconds (a person still being
recognised is not a stranger); faces alike (the same-face score of a video, pipeline.Recognizer)
form a group, and a group raises one alert, again only once it has not been seen for
`unknown_every` seconds: one stranger lingering at the door is one alert.

Time is the video's position for a file, time.monotonic() for a live source: a file's events
come at its own pace however fast it is read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..history.times import iso

UNKNOWN_AFTER = 1.0  # seconds a track stays unknown before it is a stranger
GROUP_VECTORS = 8  # faces kept per group of strangers to compare new ones with


@dataclass
class TrackSeen:
    """One track in one frame, as the frame loop saw it (copied: the tracker changes its tracks)."""

    track_id: int
    name: str | None
    score: float
    vector: np.ndarray | None  # when the face was embedded in this frame
    sighting: str | None = None  # the history's key of the track's sighting
    crop: np.ndarray | None = None  # the face (canonical crop) where it may make an event
    live: bool | None = None  # judged live (recognising with liveness checks; else None)


@dataclass
class Observation:
    """What one source's recognizer saw in one frame."""

    source: str
    clock: float  # seconds: the video's position, or time.monotonic() for a live source
    wall: float  # time.time()
    seen: list[TrackSeen]


@dataclass
class Event:
    """An event and, where there is one, the face it is about."""

    body: dict
    crop: np.ndarray | None = None
    sighting: str | None = None  # the history's key, turned into the sighting's id when sent


@dataclass
class _Person:
    since: float  # wall
    last: float  # clock
    last_wall: float
    score: float
    sighting: str | None


@dataclass
class _Group:
    number: int
    last: float  # clock
    vectors: list = field(default_factory=list)


class Presence:
    """Presence and stranger alerts on one source; fed one Observation per frame."""

    def __init__(self, source: str, *, away_after: float, unknown_every: float, same_face_cosine: float):
        self.source, self.away_after, self.unknown_every = source, away_after, unknown_every
        self.same_face_cosine = same_face_cosine
        self.present: dict[str, _Person] = {}
        self._unknown_since: dict[int, float] = {}  # track id -> clock it was first seen unknown
        self._alerted: dict[int, _Group] = {}  # tracks judged strangers -> their group
        self._groups: list[_Group] = []
        self._numbers = 0

    def observe(self, obs: Observation) -> list[Event]:
        events = []
        for seen in obs.seen:
            if seen.name is not None:
                self._unknown_since.pop(seen.track_id, None)
                person = self.present.get(seen.name)
                if person is None:
                    person = self.present[seen.name] = _Person(obs.wall, obs.clock, obs.wall, seen.score, seen.sighting)
                    events.append(Event({"event": "arrived", "source": self.source, "name": seen.name,
                                         "score": seen.score, "time": iso(obs.wall), "track_id": seen.track_id,
                                         "live": seen.live},
                                        seen.crop, seen.sighting))
                person.last, person.last_wall = obs.clock, obs.wall
                person.score, person.sighting = max(person.score, seen.score), seen.sighting or person.sighting
                continue
            first = self._unknown_since.setdefault(seen.track_id, obs.clock)
            if seen.track_id in self._alerted:
                self._alerted[seen.track_id].last = obs.clock  # a stranger still around keeps their group quiet
                continue
            if seen.vector is None or obs.clock - first < UNKNOWN_AFTER:
                continue
            group = self._group_of(seen.vector)
            quiet = group is None or obs.clock - group.last >= self.unknown_every
            if group is None:
                self._numbers += 1
                group = _Group(self._numbers, obs.clock)
                self._groups.append(group)
            group.last = obs.clock
            group.vectors = (group.vectors + [seen.vector])[-GROUP_VECTORS:]
            self._alerted[seen.track_id] = group
            if quiet:
                events.append(Event({"event": "unknown", "source": self.source, "name": None, "score": seen.score,
                                     "time": iso(obs.wall), "track_id": seen.track_id, "group": group.number,
                                     "live": seen.live},
                                    seen.crop, seen.sighting))
        return events + self.expire(obs.clock)

    def expire(self, clock: float, *, wall: float | None = None) -> list[Event]:
        """"left" for everyone not seen for away_after seconds at `clock` (everyone when clock is
        None: the source ended); strangers' groups quiet for unknown_every are forgotten."""
        wall = time.time() if wall is None else wall
        gone = [n for n, p in self.present.items() if clock is None or clock - p.last >= self.away_after]
        events = []
        for name in gone:
            p = self.present.pop(name)
            events.append(Event({"event": "left", "source": self.source, "name": name, "score": p.score,
                                 "time": iso(wall), "since": iso(p.since), "last_seen": iso(p.last_wall)},
                                sighting=p.sighting))
        if clock is None:
            self._groups.clear()
        else:
            self._groups = [g for g in self._groups if clock - g.last < self.unknown_every]
        if len(self._unknown_since) > 1000:  # tracks long gone
            self._unknown_since = dict(list(self._unknown_since.items())[-100:])
            self._alerted = {k: g for k, g in self._alerted.items() if k in self._unknown_since}
        return events

    def _group_of(self, vector: np.ndarray) -> _Group | None:
        best, best_cosine = None, self.same_face_cosine
        for group in self._groups:
            cosine = max(float(vector @ v) for v in group.vectors)
            if cosine >= best_cosine:
                best, best_cosine = group, cosine
        return best
