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
