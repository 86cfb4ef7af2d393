"""Calibration on a user's own data: genuine and impostor score distributions of labelled vectors,
the threshold for a target false-accept rate, and the score scale's knots when there are enough pairs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..calibration import SCORE_DECADES, fit_score_knots, rates, score_pools, threshold_for_far
from ..errors import UsageError
from .common import Progress, central_vectors, no_progress


@dataclass(frozen=True)
class CalibrationResult:
    model: str
    people: int
    samples: int
    genuine_pairs: int
    impostor_pairs: int
    target_far: float
    threshold: float  # score that lets through at most target_far of the impostor pairs
    cosine: float
    tar: float
    far: float
    default_threshold: float
    default_cosine: float
    default_tar: float
    default_far: float
    genuine: dict  # p5, median
    impostor: dict  # median, p99, max
    score_knots: list | None  # [[cosine, score], ...] when a million or so impostor pairs measure them
    # the model's score scale checked on this data: [score, the false-accept rate it stands for, the
    # rate measured here, that rate's standard error from the number of impostor pairs]
    scale_check: list | None

    def to_json(self) -> dict:
        return asdict(self)


def folder_vectors(folder: str | Path, detector, embedder, warn=lambda message: None,
                   progress: Progress = no_progress) -> tuple[list, list]:
    """(vectors, labels "folder:<person>") of the central face of each photo in folder/<person>/."""
    from ..images import list_images

    photos = [(person.name, photo) for person in sorted(p for p in Path(folder).iterdir() if p.is_dir())
              for photo in list_images([person])]
    vectors, labels = [], []
    for (person, _), (vector, problem) in zip(photos, central_vectors([p for _, p in photos], detector, embedder, progress)):
        if vector is not None:
            vectors.append(vector)
            labels.append(f"folder:{person}")
        else:
            warn(problem)
    return vectors, labels


def calibrate(vectors, labels: list[str], embedder, *, far: float = 0.001) -> CalibrationResult:
    """Every pair of labelled vectors scored into same-person and different-person pairs."""
    if not 0 < far < 1:
        raise UsageError("must be between 0 and 1", param="far")
    names = sorted(set(labels))
    ids = np.array([names.index(label) for label in labels])
    genuine, impostor = score_pools(np.array(vectors).reshape(-1, embedder.dim), ids)
    if not len(genuine) or not len(impostor):
        raise UsageError("calibration needs two or more people and someone with two or more samples")
    cosine = threshold_for_far(impostor, far)
    tar, measured_far = rates(genuine, impostor, cosine)
    default_cosine = embedder.min_cosine()
    default_tar, default_far = rates(genuine, impostor, default_cosine)
    try:
        knots = fit_score_knots(impostor)
    except ValueError:
        knots = None  # too few impostor pairs to measure the scale's decades
    check = None
    if embedder.scale.calibrated:
        check = [[score, target, round(rates(genuine, impostor, embedder.scale.cosine(score))[1], 8),
                  round(float(np.sqrt(target * (1 - target) / len(impostor))), 8)] for target, score in SCORE_DECADES]
    quantiles = lambda pool, qs: {q: round(float(np.quantile(pool, v)), 4) for q, v in qs}  # noqa: E731
    return CalibrationResult(
        model=embedder.name, people=len(names), samples=len(labels), genuine_pairs=len(genuine),
        impostor_pairs=len(impostor), target_far=far, threshold=round(embedder.scale.score(cosine), 4),
        cosine=round(cosine, 4), tar=round(tar, 4), far=round(measured_far, 6),
        default_threshold=embedder.default_threshold, default_cosine=round(default_cosine, 4),
        default_tar=round(default_tar, 4), default_far=round(default_far, 6),
        genuine=quantiles(genuine, (("p5", .05), ("median", .5))),
        impostor=quantiles(impostor, (("median", .5), ("p99", .99), ("max", 1))), score_knots=knots,
        scale_check=check)
