"""Recognition of one frame after another: detect, track, embed the faces that need it, match."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager

import numpy as np

from .motion import DETECT, FOLLOW
from .quality import detection_quality, same_face_cosine
from .tracking import Track, Tracker
from .words import counted


class StageTimer:
    """Seconds spent per named stage, summed over frames."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start


class Recognizer:
    """Names the faces of successive frames of one video.

    A face is embedded when its track is new, again every `reembed_every` frames, whenever it is
    seen markedly better (larger and more confidently detected) than when last embedded, and when
    its box followed the track only loosely (a cut, a face passing in front). If the new vector is
    not the same face as the track's last one, the track restarts under a new id, so a stranger
    never inherits a name. People enrolled meanwhile (by another process) are picked up within
    RELOAD_SECONDS. Each match is a vote; a track's name is the smoothed vote
    (tracking.Track.vote). Scores are on the embedder's calibrated scale.

    gate: a motion.MotionGate (None: every frame is detected). With it the detector rests while
    the picture is still and nothing is tracked, and detects less while every track on screen is
    followed (seen in the last frame, its name steady, its box not growing): those frames carry
    the tracks by their prediction, as long as nothing moves away from them, and every
    DETECT_EVERY-th frame is detected anyway; a face is embedded only in a detected frame.

    A track counts (is returned, gets a sighting, an event, an unknown face) once it is taken for a
    face: at once when it is named, else once the detector has found it in Tracker.CONFIRM frames;
    the detector's false faces (a hand, a pattern) rarely last that long. Until then it is kept
    in `ignored` (drawn grey).

    liveness: a minifasnet.Liveness: then a track counts only once most of its checks (each
    detected frame until it has Tracker.HISTORY of them, then as it is embedded) found a real
    face in front of the camera, not a print or a screen; until then, and when judged not live,
    it is left out of the tracks returned (no name, sighting, unknown face or alert) and kept in
    `ignored` (drawn grey).

    challenge: a random.Random: then a track named (and live, with liveness checks) is asked to
    turn its head to one side, chosen at random, and counts only once its head turns that way
    (into that side's pose bin, TURN_DEGREES further than when asked, and in depth: the region
    around the face must not move as one plane, as a photo turned in the hand does; see flatness)
    within CHALLENGE_SECONDS; a stranger is not asked, nor someone seen having
    turned in the last TURNED_LASTS seconds. Until then, and for good when the turn does not come,
    it is left out like a track not live, its label saying what to do.
    """

    RELOAD_SECONDS = 0.25  # how often to look for people enrolled meanwhile by another process (a stat, or a
    # PostgreSQL notification polled)
    DETECT_EVERY = 5  # while faces are followed, the whole frame is still detected every 5th frame
    STEADY_VOTES = 3  # a track is followed once its last 3 matches agree on its name (or on none)
    GROWTH = 1.3  # ... and while its box has not grown by this much since it was last detected
    QUALITY_GAIN = 1.25  # re-embed when the face is this much better than last time
    LOOSE_OVERLAP = 0.5  # re-embed when the box overlapped the prediction less than this
    CHALLENGE_SECONDS = 6.0  # the time a named face has to turn its head as asked
    TURNED_LASTS = 30.0  # seconds someone who turned as asked is not asked again (a cut, a new track of them)
    TURNS = ("left", "right")  # the directions asked (camera's: "left" is the person's right)
    TURN_DEGREES = 15.0  # how far the head must turn from where it was when asked

    def __init__(self, detector, embedder, registry, threshold: float | None = None,
                 reembed_every: int = 10, timer: StageTimer | None = None, gate=None, liveness=None, challenge=None,
                 warn=None):
        self.detector, self.embedder, self.registry = detector, embedder, registry
        self.threshold = embedder.default_threshold if threshold is None else threshold
        self.min_cosine = embedder.min_cosine(self.threshold)
        self.reembed_every = reembed_every
        self.same_face_cosine = same_face_cosine(embedder)
        self.tracker = Tracker()
        self.timer = timer or StageTimer()
        self.gate, self.liveness, self.challenge = gate, liveness, challenge
        self.warn = warn  # told once when a shared registry becomes unreachable, and when it is back
        self._offline: str | None = None  # why the shared registry was unreachable at the last look
        self.ignored: list[Track] = []  # the tracks of the last frame left out: not judged live
        self._newly_counted: list[Track] = []  # judged live, or turned as asked, in this frame: their match is news
        self._turned_at: dict[str, float] = {}  # name -> when they were last seen having turned as asked
        self._checked = time.monotonic()
        self._since_detected = 0  # frames since the whole frame was last detected

    def reset(self) -> None:
        """Forget every track (a video that starts over, a new source)."""
        self.tracker, self._turned_at = Tracker(), {}
        if self.gate is not None:
            self.gate.reset()

    def process(self, image: np.ndarray, frame: int, seconds: float | None = None) -> tuple[list[Track], list[Track]]:
        """(the tracks visible in this frame, those of them matched again in this frame). seconds:
        the frame's time (the gate's clock; default: now)."""
        return process_together([self], [image], [frame], None if seconds is None else [seconds])[0]

    def _look(self, image: np.ndarray, seconds: float | None) -> str:
        """What this frame gets: motion.DETECT, FOLLOW or REST (the gate's decision, timed as "motion")."""
        if self.gate is None:
            return DETECT
        tracks = self.tracker.tracks
        followed = None
        if tracks and self._since_detected + 1 < self.DETECT_EVERY and all(map(self._steady, tracks)):
            followed = [t.predicted_box() for t in tracks]
        with self.timer("motion"):
            look = self.gate.look(image, seconds, tracked=bool(tracks), followed=followed)
        self._since_detected = 0 if look == DETECT else self._since_detected + 1
        return look

    def _steady(self, track: Track) -> bool:
        """Whether the track can be followed without the detector: seen in the last frame, its
        last STEADY_VOTES matches agreeing on its name, its box not grown since it was detected."""
        recent = list(track.votes)[-self.STEADY_VOTES:]
        return (track.misses == 0 and len(recent) == self.STEADY_VOTES and all(n == track.name for n, _ in recent)
                and area(track.predicted_box()) <= self.GROWTH * area(track.detected.box)
                # liveness is checked and a turn watched for in detected frames only
                and (self.liveness is None or track.live is not None) and (track.challenge is None or track.turned is not None))

    def stride(self) -> int:
        """One frame in how many the loop needs to look at now (fewer while the picture is still)."""
        return 1 if self.gate is None else self.gate.stride()

    def _due(self, faces, frame: int) -> tuple[list[Track], list[Track]]:
        """Track the faces (None: a frame the tracks were followed through, no detector ran);
        (the tracks visible, those to embed now)."""
        if time.monotonic() - self._checked > self.RELOAD_SECONDS:
            was = self._offline
            self.registry, self._checked = self.registry.reload(), time.monotonic()
            now = self._offline = getattr(self.registry, "offline", None)
            if self.warn is not None and (was is None) != (now is None):
                self.warn(f"{now}; recognising the {counted(len(self.registry.identities), 'person')} known until now"
                          if now else "the registry is back")
        if faces is None:
            return self.tracker.follow(frame), []
        tracks = self.tracker.update(faces, frame)
        due = [t for t in tracks if t.embedded_frame is None
               or frame - t.embedded_frame >= self.reembed_every
               or t.overlap < self.LOOSE_OVERLAP
               or detection_quality(t.face) > self.QUALITY_GAIN * t.embedded_quality]
        return tracks, due

    def _match(self, due: list[Track], vectors: np.ndarray, frame: int) -> None:
        if not due:
            return
        for track, vector, match in zip(due, vectors, self.registry.match(vectors, self.min_cosine)):
            if track.vector is not None and float(vector @ track.vector) < self.same_face_cosine:
                self.tracker.restart(track, frame)
            track.vector = vector
            track.vote(match.name, self.embedder.score(match.cosine))
            track.embedded_frame, track.embedded_quality = frame, detection_quality(track.face)

    def _check_live(self, image: np.ndarray, tracks: list[Track], due: list[Track], frame: int) -> None:
        """Liveness of the tracks detected in this frame that need it: those with fewer than
        Tracker.HISTORY checks, and those embedded now."""
        check = [t for t in tracks if t.detected_frame == frame
                 and (len(t.live_votes) < Tracker.HISTORY or any(t is d for d in due))]
        for track, score in zip(check, self.liveness.score(image, [t.face.box for t in check])):
            was = track.live
            track.liveness = round(float(score), 4)
            track.live_votes.append(bool(score >= self.liveness.threshold))
            if track.live is True and was is not True and track.vector is not None:
                self._newly_counted.append(track)  # its match is news now: reported as matched in this frame

    def _ask_to_turn(self, image: np.ndarray, tracks: list[Track], frame: int, now: float) -> None:
        """The challenge: ask each track newly named (and live) to turn its head; watch for the
        turn in detected frames until its time is up."""
        from . import flatness
        from .guide import head_pose, pose_bin

        for track in tracks:
            if track.name is None or (self.liveness is not None and track.live is not True):
                continue
            if track.challenge is None:
                track.challenge = self.challenge.choice(self.TURNS)
                track.challenge_until = now + self.CHALLENGE_SECONDS
                track.challenge_from = head_pose(track.face.landmarks)[0]
                track.challenge_view = flatness.view(image, track.face.box, track.face.landmarks)
                if now - self._turned_at.get(track.name, -np.inf) <= self.TURNED_LASTS:
                    track.turned = True  # they turned as asked a moment ago
            elif track.turned is None and track.detected_frame == frame:
                yaw, pitch = head_pose(track.face.landmarks)
                towards = 1 if track.challenge == "right" else -1  # yaw > 0: the nose to the image's right
                # in the direction asked, and turned there: a face looking that way when asked must
                # turn further; and in depth, as a head turns, not as a picture turned in the hand does
                if (pose_bin(yaw, pitch) == track.challenge and towards * (yaw - track.challenge_from) >= self.TURN_DEGREES
                        and flatness.flat(track.challenge_view, flatness.view(image, track.face.box, track.face.landmarks)) is False):
                    track.turned = True
                    self._newly_counted.append(track)  # news now: reported as matched in this frame
                elif now > track.challenge_until:
                    track.turned = False
            if track.turned:
                self._turned_at[track.name] = now

    def _confirm(self, tracks: list[Track]) -> None:
        """Take a track for a face once it is named, or once the detector has found it in
        Tracker.CONFIRM frames: the detector's false faces (a hand, a pattern in the light) come and
        go within a frame or two, and a stranger's face stays."""
        for track in tracks:
            if not track.confirmed and (track.name is not None or track.detections >= Tracker.CONFIRM):
                track.confirmed = True
                if track.name is None and track.vector is not None:
                    self._newly_counted.append(track)  # a stranger now: news in this frame

    def _counts(self, track: Track) -> bool:
        if not track.confirmed:
            return False
        if self.liveness is not None and track.live is not True:
            return False
        return self.challenge is None or track.name is None or track.turned is True

    def _counted(self, tracks: list[Track], due: list[Track]) -> tuple[list[Track], list[Track]]:
        """(tracks, due) without the tracks that do not count: those not taken for a face (yet);
        with liveness checks, those not judged live (yet); with the challenge, those named that have
        not turned as asked (yet)."""
        counted = [t for t in tracks if self._counts(t)]
        self.ignored = [t for t in tracks if all(t is not c for c in counted)]
        matched = [t for t in due if any(t is c for c in counted)]
        return counted, matched + [t for t in self._newly_counted
                                   if any(t is c for c in counted) and all(t is not m for m in matched)]


def process_together(recognizers: list[Recognizer], images: list[np.ndarray], frames: list[int],
                     seconds: list[float] | None = None):
    """Recognizer.process for the frames of several sources at once, one Recognizer each (they
    share the detector and the embedder): the frames their gates let through are detected as one
    batch (a gated frame has no faces) and the faces due for embedding embedded as one. Returns
    (tracks, matched) per source; each Recognizer's timer gets its share of the stages run
    together."""
    first = recognizers[0]
    seconds = seconds or [None] * len(images)
    looks = [r._look(image, when) for r, image, when in zip(recognizers, images, seconds)]
    detected = [i for i, look in enumerate(looks) if look == DETECT]
    faces: list[list | None] = [None if look == FOLLOW else [] for look in looks]
    if detected:
        with _shared([recognizers[i] for i in detected], "detect"):
            batch = [images[i] for i in detected]
            detect_many = getattr(first.detector, "detect_many", None)
            for i, found in zip(detected, detect_many(batch) if detect_many else map(first.detector.detect, batch)):
                faces[i] = found
    with _shared(recognizers, "track"):
        plans = [r._due(f, frame) for r, f, frame in zip(recognizers, faces, frames)]
    crops = [first.embedder.crop(image, t.face.landmarks) for image, (_, due) in zip(images, plans) for t in due]
    if crops:
        with _shared(recognizers, "embed"):
            vectors = first.embedder.embed_crops(np.stack(crops))
        with _shared(recognizers, "match"):
            start = 0
            for r, (_, due), frame in zip(recognizers, plans, frames):
                r._match(due, vectors[start:start + len(due)], frame)
                start += len(due)
    for r, (tracks, _) in zip(recognizers, plans):
        r._newly_counted = []
        r._confirm(tracks)
    if first.liveness is not None:
        with _shared(recognizers, "liveness"):
            for r, image, (tracks, due), frame in zip(recognizers, images, plans, frames):
                r._check_live(image, tracks, due, frame)
    if first.challenge is not None:
        for r, image, (tracks, _), frame, when in zip(recognizers, images, plans, frames, seconds):
            r._ask_to_turn(image, tracks, frame, time.monotonic() if when is None else when)
    return [r._counted(tracks, due) for r, (tracks, due) in zip(recognizers, plans)]


def area(box: np.ndarray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


@contextmanager
def _shared(recognizers: list[Recognizer], stage: str):
    """Time a stage run for several recognizers at once: each is charged an equal share."""
    start = time.perf_counter()
    try:
        yield
    finally:
        share = (time.perf_counter() - start) / len(recognizers)
        for r in recognizers:
            r.timer.seconds[stage] += share
