"""SORT-style face tracking: detections are linked frame to frame by box overlap with a
constant-velocity prediction, so each face is embedded when it appears and then only now and
then, and its name is smoothed over its recent matches instead of flickering frame to frame."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

from .geometry import iou_matrix
from .types import Detection


@dataclass
class Track:
    id: int
    face: Detection  # the latest detection, or the face carried by prediction where no detector ran
    first_frame: int
    last_frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # box change per frame
    misses: int = 0  # frames since the last detection
    overlap: float = 1.0  # IoU of the latest detection with the predicted box
    embedded_frame: int | None = None  # when the face was last embedded and matched
    embedded_quality: float = 0.0
    vector: np.ndarray | None = None  # the latest embedding
    votes: deque = field(default_factory=lambda: deque(maxlen=Tracker.HISTORY))  # (name or None, score)
    name: str | None = None  # the smoothed identity
    score: float | None = None  # the latest score given to that identity
    detected: Detection | None = None  # the latest face the detector found ...
    detected_frame: int | None = None  # ... and in which frame
    detections: int = 1  # frames the detector found it in
    confirmed: bool = False  # taken for a face: named, or found by the detector in Tracker.CONFIRM frames
    live_votes: deque = field(default_factory=lambda: deque(maxlen=Tracker.HISTORY))  # liveness checks passed
    liveness: float | None = None  # the latest liveness score (with --liveness)
    challenge: str | None = None  # the head direction asked of it once named (with --challenge; guide.pose_bin's)
    challenge_until: float = 0.0  # ... the frame time by which the turn must come
    challenge_from: float = 0.0  # ... the head's yaw when asked (degrees)
    challenge_view: object = None  # ... and the region around the face then (a flatness.View)
    turned: bool | None = None  # ... whether it came (None: not yet)

    def __post_init__(self):
        self.detected = self.detected or self.face
        self.detected_frame = self.first_frame if self.detected_frame is None else self.detected_frame

    @property
    def live(self) -> bool | None:
        """Whether most of its liveness checks found a real face in front of the camera, once
        LIVE_CHECKS were made (None before, and without liveness checks): one bad frame does not
        flip it."""
        if len(self.live_votes) < Tracker.LIVE_CHECKS:
            return None
        return 2 * sum(self.live_votes) > len(self.live_votes)

    def predicted_box(self) -> np.ndarray:
        return self.face.box + self.velocity * (self.misses + 1)

    def vote(self, name: str | None, score: float) -> None:
        """Add one match; the identity becomes the most frequent one among the recent matches
        (unknown counts as one); on a tie the current identity stays, else the most recent wins."""
        self.votes.append((name, score))
        counts = Counter(n for n, _ in self.votes)
        top = max(counts.values())
        if len(self.votes) == 1 or counts.get(self.name, 0) < top:
            self.name = next(n for n, _ in reversed(self.votes) if counts[n] == top)
        self.score = next(s for n, s in reversed(self.votes) if n == self.name)


class Tracker:
    HISTORY = 5  # matches a track's name is smoothed over (and liveness checks its verdict is)
    CONFIRM = 3  # detections before a track no one's name is taken for a face (a hand, a pattern flickers)
    LIVE_CHECKS = 3  # liveness checks before a track is judged live or not

    def __init__(self, min_iou: float = 0.3, max_misses: int = 10):
        self.min_iou = min_iou
        self.max_misses = max_misses  # frames a track survives without a detection
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, faces: list[Detection], frame: int) -> list[Track]:
        """Link this frame's detections to tracks; returns the tracks seen in this frame, in the
        order of `faces` (new faces start new tracks)."""
        if not faces and not self.tracks:
            return []  # an empty scene (most frames of a door camera): nothing to link
        predicted = np.array([t.predicted_box() for t in self.tracks]).reshape(-1, 4)
        overlap = iou_matrix(predicted, np.array([f.box for f in faces]).reshape(-1, 4))
        assigned: dict[int, Track] = {}
        # greedy, best overlap first: as good as optimal assignment for faces, which rarely overlap
        for t, d in zip(*np.unravel_index(np.argsort(-overlap, axis=None), overlap.shape)):
            if overlap[t, d] < self.min_iou:
                break
            track = self.tracks[t]
            if d in assigned or any(a is track for a in assigned.values()):
                continue
            # from detection to detection: the frames it was followed through carried its prediction only
            gap = frame - track.detected_frame
            track.velocity = 0.5 * track.velocity + 0.5 * (faces[d].box - track.detected.box) / max(gap, 1)
            track.face, track.last_frame, track.misses, track.overlap = faces[d], frame, 0, float(overlap[t, d])
            track.detected, track.detected_frame, track.detections = faces[d], frame, track.detections + 1
            assigned[d] = track
        for track in self.tracks:
            if track.last_frame != frame:
                track.misses += 1
        self.tracks = [t for t in self.tracks if t.misses <= self.max_misses]
        for d, face in enumerate(faces):
            if d not in assigned:
                assigned[d] = Track(self._next_id, face, frame, frame)
                self._next_id += 1
                self.tracks.append(assigned[d])
        return [assigned[d] for d in range(len(faces))]

    def follow(self, frame: int) -> list[Track]:
        """Carry every track to this frame by its prediction, where no detector ran (its box
        moved by its velocity, its landmarks with it); returns them all, as seen in this frame."""
        for track in self.tracks:
            track.face = carried(track.face, track.predicted_box())
            track.last_frame = frame
        return list(self.tracks)

    def restart(self, track: Track, frame: int) -> None:
        """The track turned out to follow someone else (a cut, a face passing in front): from now
        on it is a new track, with a new id and no votes."""
        track.id, self._next_id = self._next_id, self._next_id + 1
        track.first_frame, track.votes, track.name, track.score = frame, deque(maxlen=self.HISTORY), None, None
        track.detections, track.confirmed = 1, False
        track.live_votes, track.liveness = deque(maxlen=self.HISTORY), None
        track.challenge, track.turned, track.challenge_view = None, None, None


def carried(face: Detection, box: np.ndarray) -> Detection:
    """The face moved and scaled to `box`, its landmarks with it (the same score)."""
    old_center, new_center = (face.box[:2] + face.box[2:]) / 2, (box[:2] + box[2:]) / 2
    scale = (box[2:] - box[:2]) / np.maximum(face.box[2:] - face.box[:2], 1e-3)
    landmarks = (face.landmarks - old_center) * scale + new_center
    return Detection(box=box.astype(np.float32), score=face.score, landmarks=landmarks.astype(np.float32))
