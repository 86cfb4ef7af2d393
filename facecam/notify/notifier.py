"""From what the recognizers see to events handed to the sinks (MQTT, webhooks, JSON lines, the
server's /events), in a thread of its own: the frame loop only queues what it saw and never waits
for a broker, a receiver or a database."""

from __future__ import annotations

import base64
import queue
import threading
import time
from typing import Callable, Protocol

from .presence import Event, Observation, Presence, TrackSeen


class Sink(Protocol):
    """Where events go. send() must not block; close() delivers what it still can by `deadline`
    (time.monotonic())."""

    def send(self, body: dict, snapshot: bytes | None) -> None: ...

    def people(self, names: set[str]) -> None: ...

    def close(self, deadline: float) -> None: ...


class Notifier:
    """One per process, for every source: watch(source) gives the source's observe.Observer. sinks: where the events go; snapshots:
    whether they carry the face as base64 JPEG ("snapshot"); enrolled(): the names enrolled now
    (sinks hear of changes within RELOAD seconds); sighting_id(key, timeout): the history's id of a
    sighting (history.Writer.row_id), or None without a history."""

    RELOAD = 2.0
    QUEUE = 500  # frames' observations waiting; more are dropped (counted) rather than wait

    def __init__(self, sinks: list, *, away_after: float, unknown_every: float, same_face_cosine: float,
                 snapshots: bool = False, enrolled: Callable[[], set[str] | None] | None = None,
                 sighting_id: Callable[[str, float], int | None] | None = None, away_after_at: dict | None = None):
        self.sinks, self.snapshots, self.enrolled, self.sighting_id = sinks, snapshots, enrolled, sighting_id
        self.settings = {"away_after": away_after, "unknown_every": unknown_every, "same_face_cosine": same_face_cosine}
        self.away_after_at = away_after_at or {}  # a source's own away_after, by its name
        self.presences: dict[str, Presence] = {}
        self.live: set[str] = set()  # sources whose clock is time.monotonic()
        self.overflow = 0
        self._queue: queue.Queue = queue.Queue(self.QUEUE)
        self._names: set[str] | None = None
        self._thread = threading.Thread(target=self._run, name="facecam-notify", daemon=True)
        self._thread.start()

    def watch(self, source: str, *, live: bool, recorder=None) -> "Watch":
        return Watch(self, source, live, recorder)

    def ended(self, source: str) -> None:
        """The source ended (a file's last frame, a stream lost): everyone there has left."""
        self._put(("end", source))

    def close(self, timeout: float = 5.0) -> None:
        """Everyone still present leaves; the sinks deliver what they can within `timeout`."""
        self._queue.put(("close", None))
        self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        for sink in self.sinks:
            sink.close(deadline)

    def _put(self, item) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.overflow += 1

    def _run(self) -> None:
        next_reload = 0.0
        while True:
            try:
                kind, item = self._queue.get(timeout=0.5)
            except queue.Empty:
                kind, item = "tick", None
            now = time.monotonic()
            if now >= next_reload and self.enrolled is not None:
                next_reload = now + self.RELOAD
                names = self.enrolled()
                if names is not None and names != self._names:
                    self._names = set(names)
                    for sink in self.sinks:
                        sink.people(self._names)
            if kind == "seen":
                presence = self.presences.get(item.source)
                if presence is None:
                    own = {"away_after": self.away_after_at[item.source]} if item.source in self.away_after_at else {}
                    presence = self.presences[item.source] = Presence(item.source, **{**self.settings, **own})
                self._emit(presence.observe(item))
            elif kind == "end" and item in self.presences:
                self._emit(self.presences[item].expire(None))
            for source in self.live & set(self.presences):  # a live source may go quiet: time goes on
                self._emit(self.presences[source].expire(now))
            if kind == "close":
                for presence in self.presences.values():
                    self._emit(presence.expire(None))
                return

    def _emit(self, events: list[Event]) -> None:
        for event in events:
            body = event.body
            body["sighting"] = (self.sighting_id(event.sighting, 0.5)
                                if self.sighting_id is not None and event.sighting else None)
            snapshot = _jpeg(event.crop) if self.snapshots and event.crop is not None else None  # only they use it
            if snapshot is not None:
                body["snapshot"] = base64.b64encode(snapshot).decode()
            for sink in self.sinks:
                sink.send(body, snapshot)


class Watch:
    """Follows one source's tracks for the Notifier: an observe.Observer. recorder: the source's
    history.Recorder, whose sightings the events name."""

    def __init__(self, notifier: Notifier, source: str, live: bool, recorder=None):
        self.notifier, self.source, self.live, self.recorder = notifier, source, live, recorder
        self._names: set = set()
        if live:
            notifier.live.add(source)

    def update(self, seen) -> None:
        embedded = {t.id for t in seen.matched if t.vector is not None}
        keys = self.recorder.keys() if self.recorder is not None else {}
        faces = []
        for t in seen.tracks:
            # the face is cut out only where an event may come of it: a name not on screen in the
            # previous frame (an arrival), a stranger's face just embedded
            wanted = t.name not in self._names if t.name is not None else t.id in embedded
            faces.append(TrackSeen(t.id, t.name, float(t.score or 0.0), t.vector.copy() if t.id in embedded else None,
                              keys.get(t.id), seen.crop(t)[0] if wanted else None, t.live))
        self._names = {t.name for t in seen.tracks}
        clock = time.monotonic() if self.live else seen.frame.time
        self.notifier._put(("seen", Observation(self.source, clock, time.time(), faces)))

    def close(self) -> None:
        self.notifier.ended(self.source)


def _jpeg(crop) -> bytes | None:
    import cv2

    ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return jpeg.tobytes() if ok else None


