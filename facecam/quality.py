"""How well a face shows: the measures enrolment, tracking, the history and the unknown faces'
grouping all judge faces by, in one place."""

from __future__ import annotations

import numpy as np

from .align import ARCFACE_112, align
from .types import Detection

# The score (the calibrated scale) two vectors of one face in one video keep above; 1% of pairs
# of strangers reach it. Below it a track's new vector is someone else's face (a cut, a face
# passing in front), and a stranger's alert is about another stranger.
SAME_FACE = 0.5


def face_measures(image: np.ndarray, landmarks: np.ndarray) -> tuple[float, float]:
    """(sharpness, brightness) of the face, aligned to a fixed 112 px crop so face size and
    position do not change them: the variance of the Laplacian, and the mean grey level 0-255."""
    import cv2

    grey = cv2.cvtColor(align(image, landmarks, ARCFACE_112, (112, 112)), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var()), float(grey[24:100, 20:92].mean())


def detection_quality(face: Detection) -> float:
    """How well a detection shows its face, for choosing among a track's frames: the detector's
    confidence times the box's shorter side."""
    x1, y1, x2, y2 = face.box
    return float(face.score) * float(min(x2 - x1, y2 - y1))


def same_face_cosine(embedder) -> float:
    """SAME_FACE on this embedder's cosine scale."""
    return float(embedder.scale.cosine(SAME_FACE))
