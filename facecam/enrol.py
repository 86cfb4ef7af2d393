"""Guided enrolment: head pose from the 5 landmarks, pose bins to cover, and which frames make
good samples (one clear face, large, sharp, confidently detected, adding a pose or quality)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .align import ARCFACE_112, align, canonical_crop
from .errors import ConflictError
from .types import Detection, Sample
from .validate import shorten

POSES = ("frontal", "left", "right", "up", "down")
# The nose tip stands about half an eye distance in front of the eyes (an adult's nose juts out
# some 30 mm, pupils sit some 63 mm apart), and the eyes-to-mouth distance is 1.16 eye distances
# on the ArcFace template, where the nose sits 0.495 of the way down from eyes to mouth.
NOSE_DEPTH = 0.5
EYES_TO_MOUTH = 1.16
NOSE_DOWN = 0.495


def head_pose(landmarks: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in degrees, roughly, from the 5 landmarks; 0, 0 is facing the camera.

    Yaw > 0: the nose points to the image's right; pitch > 0: the face is tilted up. The face's
    own axis (eye midpoint to mouth midpoint) is used, so in-plane roll does not count.
    """
    p = np.asarray(landmarks, np.float64)
    eyes, mouth, nose = (p[0] + p[1]) / 2, (p[3] + p[4]) / 2, p[2]
    down = mouth - eyes
    length = float(np.linalg.norm(down))
    eye_distance = float(np.linalg.norm(p[1] - p[0]))
    if length < 1e-6 or eye_distance < 1e-6:
        return 0.0, 0.0
    down /= length
    across = np.array([down[1], -down[0]])  # image-right for an upright face
    offset = nose - eyes
    side = float(offset @ across)  # the nose's shift off the face axis
    along = float(offset @ down) / length
    # a turned head shortens the eye distance by cos(yaw) and moves the nose by sin(yaw) * depth
    yaw = math.degrees(math.atan2(side, NOSE_DEPTH * eye_distance))
    # a tilted head moves the nose along the axis by sin(pitch) * depth
    sine = (NOSE_DOWN - along) * length / (NOSE_DEPTH * eye_distance / math.cos(math.radians(yaw)))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, sine))))
    return yaw, pitch


def pose_bin(yaw: float, pitch: float) -> str | None:
    """The pose bin of a head pose, or None between bins or beyond what enrolment should use."""
    if abs(yaw) > 50 or abs(pitch) > 40:
        return None
    if abs(yaw) <= 10 and abs(pitch) <= 8:
        return "frontal"
    if abs(yaw) >= 18 and abs(pitch) <= 15:
        return "right" if yaw > 0 else "left"
    if abs(pitch) >= 12 and abs(yaw) <= 12:
        return "up" if pitch > 0 else "down"
    return None


def sharpness(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Variance of the Laplacian of the face, aligned to a fixed 112 px crop so face size and
    position do not change it."""
    import cv2

    crop = align(image, landmarks, ARCFACE_112, (112, 112))
    return float(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


@dataclass
class Candidate:
    """One frame's face as a possible sample."""

    face: Detection
    pose: str | None
    yaw: float
    pitch: float
    size: float  # the shorter side of the box, in pixels
    sharpness: float
    problem: str | None  # why it cannot be a sample, for the window

    @property
    def quality(self) -> float:
        return float(self.face.score) * min(self.size, 200.0) * min(self.sharpness, 500.0)


class Enrolment:
    """The best sample per pose bin, from the faces offered frame by frame."""

    def __init__(self, *, detect_threshold: float = 0.9, min_face: int = 80, min_sharpness: float = 40.0):
        self.detect_threshold, self.min_face, self.min_sharpness = detect_threshold, min_face, min_sharpness
        self.samples: dict[str, tuple[Candidate, object]] = {}  # pose -> (candidate, data kept with it)

    @property
    def complete(self) -> bool:
        return all(p in self.samples for p in POSES)

    def candidate(self, image: np.ndarray, faces: list[Detection]) -> tuple[Candidate | None, str | None]:
        """The face to consider in this frame (the largest), and a warning when there are several."""
        if not faces:
            return None, None
        face = max(faces, key=lambda f: float(np.prod(f.box[2:] - f.box[:2])))
        warning = f"{len(faces)} faces: using the largest" if len(faces) > 1 else None
        yaw, pitch = head_pose(face.landmarks)
        pose = pose_bin(yaw, pitch)
        x1, y1, x2, y2 = face.box
        size = float(min(x2 - x1, y2 - y1))
        sharp = sharpness(image, face.landmarks)
        problem = None
        if face.score < self.detect_threshold:
            problem = f"face unclear (detection {face.score:.2f})"
        elif size < self.min_face:
            problem = f"come closer (face {size:.0f} px, {self.min_face} needed)"
        elif sharp < self.min_sharpness:
            problem = "hold still (blurred)"
        elif pose is None:
            problem = "between poses"
        return Candidate(face, pose, yaw, pitch, size, sharp, problem), warning

    def wanted(self, candidate: Candidate) -> bool:
        """Whether the candidate fills an empty pose bin or beats that bin's sample by 20%."""
        if candidate.problem is not None:
            return False
        held = self.samples.get(candidate.pose)
        return held is None or candidate.quality > 1.2 * held[0].quality

    def keep(self, candidate: Candidate, data) -> None:
        """Make the candidate its pose bin's sample, with whatever the caller keeps with it."""
        self.samples[candidate.pose] = (candidate, data)


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
    """The samples of photo files (one per photo: its main face), and the photos skipped as
    {"image", "reason"} (unreadable, no face, no clear main face)."""
    from .errors import FacecamError
    from .sources import read_image

    samples, skipped = [], []
    for done, path in enumerate(photos, 1):
        try:
            one, reason = photo_sample(read_image(path), detector, embedder, str(path), keep_crops)
        except FacecamError as err:
            one, reason = None, str(err).removeprefix(f"{path}: ")
        if one is None:
            skipped.append({"image": str(path), "reason": reason})
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


def refuse_taken(names, registry, *, add: bool, replace: bool) -> None:
    """ConflictError when one of `names` is enrolled already and neither add nor replace is asked."""
    for name in names:
        if name in registry.names() and not (add or replace):
            raise ConflictError(f"{shorten(name)} is enrolled already: --add adds samples, --replace starts over; "
                                f"nothing saved")


def save(path, embedder, enrolled: dict[str, list[Sample]], *, add: bool = False, replace: bool = False,
         force: bool = False, threshold: float | None = None, warn=lambda message: None) -> dict[str, int]:
    """Enrol {name: [Sample, ...]} in one registry transaction; returns {name: samples in all}.
    A name enrolled already needs add or replace, and a face that matches someone else enrolled
    needs force (ConflictError otherwise; nothing is saved then)."""
    from .registry import transaction

    with transaction(path, model=embedder.model_info, create=True) as reg:
        refuse_taken(enrolled, reg, add=add, replace=replace)  # again: another process may have enrolled meanwhile
        for name, samples in enrolled.items():
            other = someone_else(reg, name, np.stack([s.vector for s in samples]), embedder, threshold)
            if other and not force:
                raise ConflictError(f"{shorten(name)[1:-1]}: this face matches {shorten(other[0])} (score {other[1]}), "
                                    f"who is enrolled already; nothing saved (--force enrols anyway)")
            if other:
                warn(f"{name}: this face matches {other[0]!r} (score {other[1]}); enrolled anyway (--force)")
        for name, samples in enrolled.items():
            if replace and name in reg.names():
                reg.remove(name)
            reg.add(name, np.stack([s.vector for s in samples]), [s.metadata for s in samples],
                    [s.crop for s in samples])
        return {name: reg.count(name) for name in enrolled}
