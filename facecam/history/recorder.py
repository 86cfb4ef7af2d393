"""From tracks to stored sightings: the Recorder follows one source's tracks frame by frame and
turns each into a sighting; the Writer stores them from a background thread, so the frame loop
never waits for the database, and keeps what it could not store (the database away, the disk
full) to try again."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..errors import HistoryError
from ..quality import detection_quality, face_measures
from .store import Face, History, Record, public

DAY = 86400.0


@dataclass
class _Open:
    """A sighting in progress."""

    key: str
    track_id: int
    started_at: float
    start_s: float | None
    ended_at: float = 0.0
    end_s: float | None = None
    frames: int = 0
    names: Counter = field(default_factory=Counter)  # frames seen under each smoothed name (None: unknown)
    best: dict = field(default_factory=dict)  # name -> best score given to it
    face: tuple | None = None  # (crop BGR, landmarks, embedding) of the best face so far
    face_quality: float = 0.0
    face_changed: bool = False
    written: float = 0.0  # time.monotonic() of the last hand-over to the writer
    live: bool | None = None  # judged live (with liveness checks; a track counts only then)

    def name(self) -> str | None:
        """The settled name: the one the track carried for the most frames, a person winning a tie
        with unknown. A track that starts unknown and settles on a person once it is close enough
        is one sighting under whichever it showed longer."""
        if not self.names:
            return None
        return max(self.names, key=lambda n: (self.names[n], n is not None))


class Replays:
    """The passes of one video file that plays again and again (serve --loop): a replay stores
    only the people earlier passes did not (someone enrolled meanwhile), no unknown faces again."""

    def __init__(self):
        self.passes = 0  # started so far; the stream counts them
        self.names: set[str] = set()  # the people stored from this file

    @property
    def replaying(self) -> bool:
        return self.passes > 1


class Recorder:
    """Sightings of one source: an observe.Observer, updated after every frame, closed at the end.

    source: its name (stored with every sighting); live: a camera or stream, whose sightings
    happen when they are seen. A file keeps its own timeline: a sighting starts at the run's start
    plus its position in the file, however fast the machine reads it (start_s/end_s are the
    positions); model: the embedder's name (stored with each embedding); replays: a looped file's
    Replays, whose replays store only the people not stored yet."""

    UPDATE_SECONDS = 30.0  # a sighting still going is written this often, so a crash keeps it

    def __init__(self, writer: "Writer", *, source: str, live: bool, model: str, replays: Replays | None = None):
        self.writer, self.source, self.live, self.model, self.replays = writer, source, live, model, replays
        self.open: dict[int, _Open] = {}
        self.handed: set[str] = set()  # with replays: the sightings handed to the writer (a replay withholds some)
        self.origin = time.time()  # a file's position 0 s, as wall-clock time

    def update(self, seen) -> None:
        position = None if self.live else seen.frame.time
        now = time.time() if self.live else self.origin + position
        embedded = {t.id for t in seen.matched}
        new = []
        for track in seen.tracks:
            sighting = self.open.get(track.id)
            if sighting is None:
                new.append(track.id)
                sighting = self.open[track.id] = _Open(uuid.uuid4().hex, track.id, now, position,
                                                       written=time.monotonic())
            sighting.ended_at, sighting.end_s, sighting.frames = now, position, sighting.frames + 1
            sighting.names[track.name] += 1
            sighting.live = track.live
            sighting.best[track.name] = max(sighting.best.get(track.name, 0.0), track.score or 0.0)
            quality = detection_quality(track.face)
            if track.id in embedded and track.vector is not None and quality > sighting.face_quality:
                crop, landmarks = seen.crop(track)
                sighting.face, sighting.face_quality, sighting.face_changed = (crop, landmarks, track.vector.copy()), quality, True
        for track_id in new:  # stored at once: its id exists from the start (events name it), a crash keeps it
            self._hand_over(self.open[track_id], closed=False)
        alive_ids = {t.id for t in seen.alive}
        for track_id in [i for i in self.open if i not in alive_ids]:
            self._hand_over(self.open.pop(track_id), closed=True)
        due = time.monotonic() - self.UPDATE_SECONDS
        for track_id, sighting in self.open.items():
            if sighting.written < due and track_id not in new:
                self._hand_over(sighting, closed=False)

    def keys(self) -> dict[int, str]:
        """Track id -> the key of its sighting in progress."""
        return {track_id: s.key for track_id, s in self.open.items()}

    def close(self) -> None:
        """End every sighting in progress (the source ended, the user quit, Ctrl-C)."""
        for sighting in self.open.values():
            self._hand_over(sighting, closed=True)
        self.open.clear()

    def _hand_over(self, s: _Open, *, closed: bool) -> None:
        name = s.name()
        if self.replays is not None:
            if self.replays.replaying and s.key not in self.handed and (name is None or name in self.replays.names):
                return  # seen so in an earlier pass of the file
            if name is not None:
                self.replays.names.add(name)
            self.handed.add(s.key)
        face = None
        if s.face_changed and s.face is not None:
            face = Face(crop=s.face[0], landmarks=s.face[1], embedding=s.face[2], model=self.model)
            s.face_changed = False
        self.writer.put(Record(key=s.key, source=self.source, track_id=s.track_id, name=name,
                               started_at=s.started_at, ended_at=s.ended_at, start_s=s.start_s, end_s=s.end_s,
                               frames=s.frames, best_score=round(float(s.best.get(name, 0.0)), 4),
                               closed=closed, live=s.live, face=face))
        s.written = time.monotonic()


class Writer:
    """Stores records from a background thread, a batch per transaction.

    When a write fails the records stay in memory (a newer state of one sighting replaces the
    older) and are tried again with a growing pause (1 s, doubling, at most RETRY_MAX); `error`
    says what is wrong meanwhile, and `warn(message)` is called once per outage. enrolled():
    the names enrolled now (or None when unknown): a sighting of someone deleted meanwhile is not
    stored. on_stored(list of row dicts): after each commit, for the ended sightings.
    retention / unknown_retention: days after which sightings (all / unknown ones) are pruned,
    at start and then hourly."""

    RETRY_MAX = 30.0
    PRUNE_EVERY = 3600.0

    def __init__(self, history: History, *, enrolled=None, on_stored=None, warn=None, retention: float | None = None,
                 unknown_retention: float | None = None):
        self.history, self.enrolled, self.on_stored, self.warn = history, enrolled, on_stored, warn
        self.retention, self.unknown_retention = retention, unknown_retention
        self.error: str | None = None
        self.stored = self.pruned = self.skipped = 0  # ended sightings stored; pruned; of people deleted meanwhile
        self.unsaved = 0  # what close() could not store
        self._queue: queue.Queue = queue.Queue()
        self._pending: dict[str, Record] = {}
        self._ids: dict[str, int] = {}
        self._row_ids: OrderedDict[str, int] = OrderedDict()  # the latest sightings' ids, for row_id()
        self._written = threading.Condition()
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name="facecam-history", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        """Sightings not stored yet."""
        return len(self._pending) + self._queue.qsize()

    def put(self, record: Record) -> None:
        self._queue.put(record)

    def row_id(self, key: str, timeout: float = 0.0) -> int | None:
        """The id of the sighting `key` once stored, waiting up to `timeout` seconds for it."""
        with self._written:
            self._written.wait_for(lambda: key in self._row_ids, timeout=timeout)
            return self._row_ids.get(key)

    def close(self, timeout: float = 10.0) -> int:
        """Store what is left, trying for up to `timeout` seconds when the database is away;
        returns how many sightings could not be stored."""
        self._deadline = time.monotonic() + timeout
        self._queue.put(None)
        self._thread.join(timeout + 5)
        self.history.close()
        self.unsaved = self.waiting
        return self.unsaved

    def _run(self) -> None:
        pause, next_try, next_prune, stopping = 1.0, 0.0, 0.0, False
        while True:
            for item in self._drain():
                if item is None:
                    stopping = True
                else:
                    self._merge(item)
            now = time.monotonic()
            if now >= next_prune and (self.retention or self.unknown_retention) and now >= next_try:
                if self._prune():
                    next_prune = now + self.PRUNE_EVERY
            if self._pending and now >= next_try:
                if self._write():
                    pause, next_try = 1.0, 0.0
                else:
                    next_try, pause = now + pause, min(2 * pause, self.RETRY_MAX)
            if stopping and (not self._pending or now >= self._deadline):
                return
            if stopping and next_try > now:
                time.sleep(min(next_try, self._deadline) - now)

    def _drain(self) -> list:
        """What was put since the last call, waiting up to 0.2 s for the first item."""
        items = []
        try:
            items.append(self._queue.get(timeout=0.2))
            while True:
                items.append(self._queue.get_nowait())
        except queue.Empty:
            return items

    def _merge(self, record: Record) -> None:
        older = self._pending.get(record.key)
        if older is not None and record.face is None:
            record.face = older.face  # the newer state keeps the face not stored yet
        self._pending[record.key] = record

    def _write(self) -> bool:
        records = list(self._pending.values())
        enrolled = self.enrolled() if self.enrolled is not None else None
        kept = [r for r in records if r.name is None or enrolled is None or r.name in enrolled]
        try:
            self.history.write([_encoded(r) for r in kept], self._ids)
        except HistoryError as err:
            self._failed(str(err))
            return False
        ended = [r for r in kept if r.closed]
        rows = [public({**r.row(), "id": self._ids.get(r.key)}) for r in ended]
        with self._written:
            for r in kept:
                if r.key in self._ids:
                    self._row_ids[r.key] = self._ids[r.key]
            while len(self._row_ids) > 10000:
                self._row_ids.popitem(last=False)
            self._written.notify_all()
        self.stored += len(ended)
        self.skipped += sum(1 for r in records if r.closed) - len(ended)
        for r in records:
            del self._pending[r.key]
            if r.closed:
                self._ids.pop(r.key, None)
        if self.error is not None:
            self.error = None
            if self.warn is not None:
                self.warn(f"history {self.history.where}: writing again")
        if self.on_stored is not None and rows:
            self.on_stored(rows)
        return True

    def _prune(self) -> bool:
        try:
            now = time.time()
            if self.retention:
                self.pruned += self.history.prune(now - self.retention * DAY)
            if self.unknown_retention:
                self.pruned += self.history.prune(now - self.unknown_retention * DAY, unknown_only=True)
        except HistoryError as err:
            self._failed(str(err))
            return False
        return True

    def _failed(self, message: str) -> None:
        if self.error is None and self.warn is not None:
            self.warn(f"{message}; sightings are kept in memory and written when it works again")
        self.error = message


def _encoded(record: Record) -> Record:
    """The record with its crop as JPEG and its sharpness measured (here, off the frame loop)."""
    import cv2

    face = record.face
    if face is not None and isinstance(face.crop, np.ndarray):
        ok, jpeg = cv2.imencode(".jpg", face.crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        record.face = Face(crop=jpeg.tobytes(), landmarks=face.landmarks, embedding=face.embedding, model=face.model,
                           sharpness=round(face_measures(face.crop, face.landmarks)[0], 2))
    return record
