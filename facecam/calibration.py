"""Score distributions and thresholds: how often strangers pass, how often people are recognised."""

from __future__ import annotations

import numpy as np


def score_pools(vectors: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine scores of every pair of rows: (same-identity pairs, different-identity pairs)."""
    vectors = np.asarray(vectors, np.float32)
    ids = np.asarray(ids)
    scores = vectors @ vectors.T
    upper = np.triu_indices(len(vectors), k=1)
    same = ids[upper[0]] == ids[upper[1]]
    pairs = scores[upper]
    return pairs[same], pairs[~same]


def threshold_for_far(impostor: np.ndarray, far: float) -> float:
    """The lowest threshold t (scores >= t accepted) at which at most `far` of impostor scores pass.

    Ties are resolved upwards: t is just above the impostor score that would exceed the budget.
    """
    impostor = np.sort(np.asarray(impostor, np.float64))[::-1]
    if not len(impostor):
        raise ValueError("no impostor scores")
    allowed = int(np.floor(far * len(impostor)))  # impostors that may pass
    if allowed >= len(impostor):
        return float(impostor[-1])
    return float(np.nextafter(impostor[allowed], np.inf))


def rates(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> tuple[float, float]:
    """(true-accept rate, false-accept rate) at `threshold`."""
    # float64: a float32 comparison would round a threshold placed just above a score onto it
    tar = float(np.mean(np.asarray(genuine, np.float64) >= threshold)) if len(genuine) else float("nan")
    far = float(np.mean(np.asarray(impostor, np.float64) >= threshold)) if len(impostor) else float("nan")
    return tar, far


# The calibrated score scale: a score of 0.4 + 0.1 k means that a fraction 10^-k of stranger pairs
# compare this well (k = 1..4 measured, 0.8 = one pair in 100,000; beyond that the last decade's
# slope is extended to 1.0). Same scale for every calibrated model, so a threshold means the same
# false-accept rate whichever model runs.
SCORE_DECADES = ((1e-1, 0.4), (1e-2, 0.5), (1e-3, 0.6), (1e-4, 0.7), (1e-5, 0.8))


def fit_score_knots(impostor: np.ndarray) -> list[list[float]]:
    """[[cosine, score], ...] knots of the calibrated scale, from impostor (stranger pair) cosines."""
    impostor = np.asarray(impostor, np.float64)
    smallest = SCORE_DECADES[-1][0]
    if len(impostor) * smallest < 10:
        raise ValueError(f"{len(impostor)} impostor pairs cannot measure a false-accept rate of {smallest:g}")
    knots = [[-1.0, 0.0]] + [[threshold_for_far(impostor, far), score] for far, score in SCORE_DECADES]
    (c1, s1), (c2, s2) = knots[-2], knots[-1]
    knots.append([c2 + (1.0 - s2) / (s2 - s1) * (c2 - c1), 1.0])  # the last decade's slope, to 1.0
    return [[round(c, 4), s] for c, s in knots]


class ScoreScale:
    """Cosine similarity <-> score. Without knots (an uncalibrated model) the score is the cosine."""

    def __init__(self, knots: list[list[float]] | None = None):
        self.calibrated = bool(knots)
        knots = np.asarray(knots if knots else [[-1.0, -1.0], [1.0, 1.0]], np.float64)
        if not (np.all(np.diff(knots[:, 0]) > 0) and np.all(np.diff(knots[:, 1]) > 0)):
            raise ValueError("score knots must increase in both cosine and score")
        self._cos, self._score = knots[:, 0], knots[:, 1]

    def score(self, cosine):
        """The score of a cosine (or an array of them); clamps to the first and last knot."""
        if not self.calibrated:
            return cosine
        out = np.interp(cosine, self._cos, self._score)
        return float(out) if np.ndim(out) == 0 else out

    def cosine(self, score: float) -> float:
        """The lowest cosine whose score reaches `score`."""
        if not self.calibrated:
            return float(score)
        return float(np.interp(score, self._score, self._cos))
