"""Result types shared by the models, the pipeline and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detection:
    """One detected face, in the coordinates of the image given to the detector.

    box: float32 (4,) as x1, y1, x2, y2 in pixels.
    score: face confidence in [0, 1].
    landmarks: float32 (5, 2) as (x, y) of left eye, right eye, nose tip, left mouth corner,
        right mouth corner, with left and right as seen in the image (the RetinaFace / ArcFace
        convention: on a frontal face point 0 has the smaller x; it is the subject's right eye).
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray

    def to_json(self) -> dict:
        return {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 5),
            "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks],
        }


@dataclass(frozen=True)
class Sample:
    """One enrolment sample: the face's L2-normalised vector (dim,) float32, its metadata for the
    registry (source, pose, quality, landmarks in the crop, ...), and its canonical 224x224 BGR
    crop, or None when crops are not kept."""

    vector: np.ndarray
    metadata: dict
    crop: np.ndarray | None = None
