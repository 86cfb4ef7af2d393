"""Guided enrolment: which frames make good samples (one face, in the guide, large, well lit,
sharp, confidently detected, in a head direction not yet covered or better than its sample, and
the same person as the samples kept), the hint to show next, and the samples themselves (from
frames and from photos)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .align import canonical_crop
from .errors import ConflictError, Remedy
from .quality import face_measures, same_face_cosine
from .guide import FRONTAL, SAY, Directions, Smoother, head_pose, inside_oval, pose_bin  # noqa: F401 (pose_bin: API)
from .types import Detection, Sample
from .validate import shorten


@dataclass
class Candidate:
    """One frame's face as a possible sample."""

    face: Detection
    pose: str | None  # the direction it is in (smoothed over frames), None between directions
    yaw: float  # this frame's head pose, degrees
    pitch: float
    size: float  # the shorter side of the box, in pixels
    sharpness: float
    brightness: float
    problem: str | None  # why it cannot be a sample: the hint shown

    @property
    def quality(self) -> float:
        return float(self.face.score) * min(self.size, 200.0) * min(self.sharpness, 500.0)

    def described(self) -> tuple[str, str]:
        """The quality in words, for the review: overall, then what it is made of."""
        overall = next(word for floor, word in ((6e4, "very good"), (3e4, "good"), (1e4, "fair"), (0, "weak"))
                       if self.quality >= floor)
        sharp = "sharp" if self.sharpness >= 200 else "soft" if self.sharpness >= 80 else "blurred"
        return overall, f"{sharp}, {self.size:.0f} px, {'clear' if self.face.score >= 0.97 else 'unclear'}"


class Enrolment:
    """The best sample per head direction, from the faces offered frame by frame, and what to tell
    the person next. `guidance()` gives the same state as data (for the window, --json and the
    web page)."""

    DARK, BRIGHT = 45.0, 215.0  # mean grey level of the face outside which it is too dark or too bright
    SOMEONE_ELSE = "that is someone else"

    def __init__(self, *, detect_threshold: float = 0.9, min_face: int = 80, min_sharpness: float = 40.0,
                 directions: Directions | None = None, placed: bool = True):
        self.detect_threshold, self.min_face, self.min_sharpness = detect_threshold, min_face, min_sharpness
        self.directions = directions or Directions()
        self.placed = placed  # whether the face must be inside the guide (a camera; not photos)
        self.smooth = True  # frames of one video; photos of a folder are unrelated: each stands alone
        self.samples: dict[str, tuple[Candidate, object]] = {}  # direction -> (candidate, data kept with it)
        self.smoother = Smoother()
        self.last: Candidate | None = None
        self.hint = "look at the camera"
        self.dropped: list[str] = []  # directions whose sample turned out to be someone else, last offer()

    @property
    def complete(self) -> bool:
        return not self.missing()

    def missing(self) -> list[str]:
        return [p for p in self.directions.names if p not in self.samples]

    def candidate(self, image: np.ndarray, faces: list[Detection]) -> tuple[Candidate | None, str | None]:
        """The face to consider in this frame (the largest), and a warning when there are several."""
        if not faces:
            self.smoother.reset()
            self.last, self.hint = None, "look at the camera"
            return None, None
        face = max(faces, key=lambda f: float(np.prod(f.box[2:] - f.box[:2])))
        warning = f"{len(faces)} faces: using the largest" if len(faces) > 1 else None
        yaw, pitch = head_pose(face.landmarks)
        if self.smooth:  # frames of a video: averaged, and a direction held while the pose stays near it
            held = self.last.pose if self.last is not None else None
            pose = self.directions.of(*self.smoother.update(face, (yaw, pitch)), held=held)
        else:
            pose = self.directions.of(yaw, pitch)
        x1, y1, x2, y2 = face.box
        size = float(min(x2 - x1, y2 - y1))
        sharp, bright = face_measures(image, face.landmarks)
        candidate = Candidate(face, pose, yaw, pitch, size, sharp, bright, None)
        candidate.problem = self._problem(candidate, image, alone=main_face(faces)[0] is not None)
        self.last, self.hint = candidate, candidate.problem or self._next_hint(candidate)
        return candidate, warning

    def _problem(self, c: Candidate, image: np.ndarray, alone: bool) -> str | None:
        """The first thing that keeps this face from being a sample, as the short hint to show."""
        checks = (
            (not alone, "only one face please"),
            (self.placed and not inside_oval(c.face, image.shape[1], image.shape[0]), "move into the oval"),
            (c.size < self.min_face, "come closer"),
            (c.brightness < self.DARK, "too dark"),
            (c.brightness > self.BRIGHT, "too bright"),
            (c.face.score < self.detect_threshold, "face unclear: face the light"),
            (c.sharpness < self.min_sharpness, "hold still"),
            (c.pose is None, "hold that direction"),
        )
        return next((hint for failed, hint in checks if failed), None)

    def _next_hint(self, c: Candidate) -> str:
        missing = self.missing()
        if not missing:
            return "all directions done: Enter saves"
        target = FRONTAL if FRONTAL in missing else next((p for p in missing if p != c.pose), missing[0])
        return SAY.get(target, f"turn your head {target}")

    def wanted(self, candidate: Candidate) -> bool:
        """Whether the candidate fills an empty direction or beats that direction's sample by 20%."""
        if candidate.problem is not None:
            return False
        held = self.samples.get(candidate.pose)
        return held is None or candidate.quality > 1.2 * held[0].quality

    def offer(self, image: np.ndarray, faces: list[Detection], embedder, metadata: dict,
              keep_crop: bool = True) -> tuple[Candidate | None, str | None, bool]:
        """One frame of guided capture (the window's and the web page's): consider its faces and
        keep the candidate as its direction's sample when it is wanted and the same person as the
        samples kept. metadata: what to record with a sample (source, frame, ...). Returns
        (candidate, warning, whether it was kept); `dropped` then lists the directions whose
        samples a new frontal face showed to be someone else's."""
        self.dropped = []
        candidate, warning = self.candidate(image, faces)
        if candidate is None or not self.wanted(candidate):
            return candidate, warning, False
        meta = {**metadata, "pose": candidate.pose, "yaw": round(candidate.yaw, 1), "pitch": round(candidate.pitch, 1),
                "sharpness": round(candidate.sharpness, 1)}
        new = sample(image, candidate.face, embedder, meta, keep_crop)
        if not self._same_person(candidate.pose, new.vector, same_face_cosine(embedder)):
            self.hint = self.SOMEONE_ELSE
            return candidate, self.SOMEONE_ELSE, False
        self.keep(candidate, new)
        if self.dropped:
            warning = f"{' and '.join(self.dropped)}: that sample was someone else; dropped"
        return candidate, warning, True

    def _same_person(self, pose: str, vector: np.ndarray, cosine: float) -> bool:
        """Whether a new sample for `pose` shows the person of the samples kept. The frontal face is
        the reference: every other direction must match it, and a better frontal must match the one
        it replaces. Before there is a frontal, a turned face must match one of the turned faces
        kept; the first frontal then drops those it does not match (the face looking straight at
        the camera is the person enrolling)."""
        near = lambda held: float(np.dot(held[1].vector, vector)) >= cosine  # noqa: E731
        frontal = self.samples.get(FRONTAL)
        if frontal is not None:
            return near(frontal)
        if pose == FRONTAL:
            self.dropped = [p for p, held in self.samples.items() if not near(held)]
            for p in self.dropped:
                del self.samples[p]
            return True
        return not self.samples or any(near(held) for held in self.samples.values())

    def kept(self) -> list[Sample]:
        """The samples kept by offer(), in the order of the directions."""
        return [self.samples[p][1] for p in self.directions.names if p in self.samples]

    def keep(self, candidate: Candidate, data) -> None:
        """Make the candidate its direction's sample, with whatever the caller keeps with it."""
        self.samples[candidate.pose] = (candidate, data)

    def drop_worst(self) -> str | None:
        """Forget the sample of lowest quality (a retake); returns its direction."""
        if not self.samples:
            return None
        return self.drop(min(self.samples, key=lambda p: self.samples[p][0].quality))

    def drop(self, direction: str) -> str:
        """Forget one direction's sample (the person chose to retake it); returns the direction."""
        del self.samples[direction]
        return direction

    def guidance(self) -> dict:
        """The enrolment's state as data: directions, which are filled, the current one, the hint,
        the directions whose samples this frame showed to be someone else's."""
        c = self.last
        return {"directions": list(self.directions.names), "filled": [p for p in self.directions.names if p in self.samples],
                "current": None if c is None else c.pose, "hint": self.hint, "dropped": list(self.dropped),
                "ok": c is not None and c.problem is None, "complete": self.complete,
                "yaw": None if c is None else round(c.yaw, 1), "pitch": None if c is None else round(c.pitch, 1)}


def sample(image: np.ndarray, face: Detection, embedder, metadata: dict, keep_crop: bool) -> Sample:
    """One registry sample of a face. The crop kept is the model-independent canonical one, with
    its landmarks in the metadata (registry/README.md)."""
    vector = embedder.embed(image, [face])[0]
    metadata = {**metadata, "quality": round(float(face.score), 4)}
    crop = None
    if keep_crop:
        crop, landmarks = canonical_crop(image, face.landmarks)
        metadata["landmarks"] = np.round(landmarks, 2).tolist()
    return Sample(vector, metadata, crop)


# A photo's subject: its largest face, when that face's area is at least this many times the next
# largest's. On the shared LFW photos (1,721, 335 with background faces) this enrols all but 30
# (1.7%), and the face taken is always the photo's subject (bench/main_face.py).
MAIN_FACE_RATIO = 1.25


def main_face(faces: list[Detection]) -> tuple[Detection | None, str | None]:
    """(the photo's main face, None), or (None, why there is none): no face, or several faces
    with none clearly the largest."""
    if not faces:
        return None, "no face"
    area = lambda f: float(np.prod(f.box[2:] - f.box[:2]))  # noqa: E731
    ranked = sorted(faces, key=area, reverse=True)
    if len(ranked) > 1 and area(ranked[0]) < MAIN_FACE_RATIO * area(ranked[1]):
        return None, f"{len(faces)} faces, none clearly the largest"
    return ranked[0], None


def photo_sample(image: np.ndarray, detector, embedder, source: str, keep_crop: bool) -> tuple[Sample | None, str | None]:
    """(the sample of a photo's main face, None), or (None, why not)."""
    face, problem = main_face(detector.detect(image))
    if face is None:
        return None, problem
    return sample(image, face, embedder, {"source": source}, keep_crop), None


def photo_samples(photos, detector, embedder, *, keep_crops: bool = True,
                  progress=lambda done, total: None) -> tuple[list[Sample], list[dict]]:
    """The samples of photos (one per photo: its main face), and the photos skipped as {"image",
    "reason"} (unreadable, no face, no clear main face). A photo is a file, or (where it came
    from, its decoded BGR image)."""
    from .errors import FacecamError
    from .images import read_image

    samples, skipped = [], []
    for done, photo in enumerate(photos, 1):
        origin, image = photo if isinstance(photo, tuple) else (str(photo), None)
        try:
            one, reason = photo_sample(read_image(photo) if image is None else image, detector, embedder, origin,
                                       keep_crops)
        except FacecamError as err:
            one, reason = None, str(err).removeprefix(f"{origin}: ")
        if one is None:
            skipped.append({"image": origin, "reason": reason})
        else:
            samples.append(one)
        progress(done, len(photos))
    return samples, skipped


def someone_else(registry, name: str, vectors: np.ndarray, embedder, threshold: float | None) -> tuple[str, float] | None:
    """(name, score) of the enrolled person other than `name` whom these vectors match best, or None."""
    others = [m for m in registry.match(vectors, embedder.min_cosine(threshold)) if m.name not in (None, name)]
    if not others:
        return None
    best = max(others, key=lambda m: m.cosine)
    return best.name, round(embedder.score(best.cosine), 3)


def refuse_taken(names, registry, *, add: bool, replace: bool, can_replace: bool = True) -> None:
    """ConflictError when one of `names` is enrolled already and neither add nor replace is asked
    (can_replace: whether the command offers --replace)."""
    for name in names:
        if name in registry.names() and not (add or replace):
            raise ConflictError(f"{shorten(name)} is enrolled already; nothing saved",
                                *((Remedy("adds samples", "add"), Remedy("starts over", "replace")) if can_replace
                                  else (Remedy("adds samples to them", "add"),)))


def save(path, embedder, enrolled: dict[str, list[Sample]], *, add: bool = False, replace: bool = False,
         force: bool = False, threshold: float | None = None, warn=lambda message: None,
         negatives: dict[str, list[Sample]] | None = None, can_replace: bool = True) -> dict[str, int]:
    """Enrol {name: [Sample, ...]} in one registry transaction; returns {name: samples in all}.
    A name enrolled already needs add or replace, and a face that matches someone else enrolled
    needs force (ConflictError otherwise; nothing is saved then). negatives: {name: [Sample, ...]}
    of faces those enrolled people were wrongly taken for, added first in the same transaction."""
    from .registry import transaction

    with transaction(path, model=embedder.model_info, create=True) as reg:
        refuse_taken(enrolled, reg, add=add, replace=replace, can_replace=can_replace)  # again: another process may have enrolled meanwhile
        for name, samples in (negatives or {}).items():
            add_negatives(reg, name, samples)
        for name, samples in enrolled.items():
            other = someone_else(reg, name, np.stack([s.vector for s in samples]), embedder, threshold)
            if other and not force:
                raise ConflictError(f"{shorten(name)[1:-1]}: this face matches {shorten(other[0])} (score {other[1]}), "
                                    f"who is enrolled already; nothing saved", Remedy("enrols anyway", "force"))
            if other:
                warn(f"{name}: this face matches {other[0]!r} (score {other[1]}); enrolled anyway, as asked")
        for name, samples in enrolled.items():
            if replace and name in reg.names():
                reg.remove(name)
            reg.add(name, np.stack([s.vector for s in samples]), [s.metadata for s in samples],
                    [s.crop for s in samples])
        return {name: reg.count(name) for name in enrolled}


def add_negatives(registry, name: str, samples: list[Sample]) -> None:
    """Keep faces `name` was wrongly taken for as their negative samples (inside a transaction)."""
    registry.add(name, np.stack([s.vector for s in samples]), [{**s.metadata, "negative": True} for s in samples],
                 [s.crop for s in samples])
