"""Verification metrics: the LFW 10-fold protocol and operating points at a false-accept rate."""

from __future__ import annotations

import numpy as np

from ..calibration import rates, threshold_for_far


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold (scores >= t mean "same") with the highest accuracy on these pairs; ties go to
    the midpoint between neighbouring scores, so a held-out score equal to one seen is not favoured."""
    s = np.unique(scores)
    candidates = np.concatenate([[s[0] - 1e-6], (s[:-1] + s[1:]) / 2, [s[-1] + 1e-6]])
    accuracy = [np.mean((scores >= t) == same) for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, folds: int = 10,
                   fold_of: np.ndarray | None = None) -> tuple[float, float, list[float]]:
    """The LFW protocol: for each fold, the threshold is chosen on the other folds and the
    accuracy measured on this one. fold_of gives each pair's fold (default: `folds` contiguous
    runs, as in the 10-fold pairs.txt). A NaN score (a pair that could not be scored) is an error.
    Returns (mean accuracy, its standard deviation, the chosen thresholds)."""
    scores, same = np.asarray(scores, np.float64), np.asarray(same, bool)
    if fold_of is None:
        parts = np.array_split(np.arange(len(scores)), folds)
    else:
        parts = [np.flatnonzero(np.asarray(fold_of) == f) for f in np.unique(fold_of)]
    accuracies, thresholds = [], []
    for part in parts:
        train = np.setdiff1d(np.arange(len(scores)), part)
        train = train[~np.isnan(scores[train])]
        t = best_threshold(scores[train], same[train])
        thresholds.append(t)
        accuracies.append(accuracy(scores[part], same[part], t))
    return float(np.mean(accuracies)), float(np.std(accuracies)), thresholds


def accuracy(scores: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """Share of pairs decided right at `threshold`; an unscored (NaN) pair is wrong."""
    scores, same = np.asarray(scores, np.float64), np.asarray(same, bool)
    right = ~np.isnan(scores) & ((scores >= threshold) == same)
    return float(np.mean(right))


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float]:
    """(true-accept rate, threshold) at the lowest threshold that keeps false accepts <= far.
    Unscored (NaN) genuine pairs count as rejected; unscored impostor pairs as not accepted."""
    genuine, impostor = np.asarray(genuine, np.float64), np.asarray(impostor, np.float64)
    threshold = threshold_for_far(np.nan_to_num(impostor, nan=-np.inf), far)
    return rates(np.nan_to_num(genuine, nan=-np.inf), impostor, threshold)[0], threshold


def pair_folds(path, count: int, folds: int = 10) -> np.ndarray:
    """Each pair's fold: the file's own folds when its header gives several ("10 300": 10 folds of
    300 same + 300 different pairs), else pair i goes to fold i mod `folds`, so that a file
    listing all same pairs first still gives folds with both kinds."""
    from pathlib import Path

    header = Path(path).read_text().split("\n", 1)[0].split()
    try:
        n_folds, per_kind = int(header[0]), int(header[1])
    except (IndexError, ValueError):
        n_folds, per_kind = 1, 0
    if n_folds >= 2 and n_folds * 2 * per_kind == count:
        return np.repeat(np.arange(n_folds), 2 * per_kind)
    return np.arange(count) % folds
