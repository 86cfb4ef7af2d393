"""Clustering measured against identity sub-folders (the labels hidden from the clustering):
BCubed precision, recall and F (per face: how much of its cluster is its person, how much of its
person is in its cluster), pairwise precision and recall, clusters against identities."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UsageError
from .common import Progress, central_vectors, no_progress


@dataclass(frozen=True)
class ClusterResult:
    model: str
    merge_score: float  # the cut, on the calibrated scale
    merge_cosine: float
    photos: int
    faces: int  # photos whose subject was found (the rest are counted in no_face)
    no_face: int
    identities: int
    clusters: int
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f: float
    pairwise_precision: float
    pairwise_recall: float

    def to_json(self) -> dict:
        return dict(self.__dict__)


def measures(truth, predicted) -> dict:
    """BCubed and pairwise precision and recall of predicted labels against true ones (any
    hashable labels, one per item). Precision with no predicted pair is 1 (nothing merged wrongly)."""
    _, t = np.unique(np.asarray(truth), return_inverse=True)
    _, p = np.unique(np.asarray(predicted), return_inverse=True)
    n = len(t)
    if n == 0:
        raise UsageError("nothing to measure: no faces")
    k = int(p.max()) + 1
    cells, both = np.unique(t * k + p, return_counts=True)  # the faces of each (person, cluster) pair
    cells_t, cells_p, both = cells // k, cells % k, both.astype(np.float64)
    size_t, size_p = np.bincount(t).astype(np.float64), np.bincount(p).astype(np.float64)
    precision = float(np.sum(both ** 2 / size_p[cells_p]) / n)
    recall = float(np.sum(both ** 2 / size_t[cells_t]) / n)
    pairs = lambda k: k * (k - 1) / 2  # noqa: E731
    same_pairs, predicted_pairs, true_pairs = pairs(both).sum(), pairs(size_p).sum(), pairs(size_t).sum()
    return {"bcubed_precision": round(precision, 5), "bcubed_recall": round(recall, 5),
            "bcubed_f": round(2 * precision * recall / (precision + recall), 5),
            "pairwise_precision": round(float(same_pairs / predicted_pairs) if predicted_pairs else 1.0, 5),
            "pairwise_recall": round(float(same_pairs / true_pairs) if true_pairs else 1.0, 5),
            "identities": int(len(size_t)), "clusters": int(len(size_p))}


def folder_vectors(root: Path, detector, embedder, progress: Progress = no_progress):
    """(vectors (N, D), the identity of each, photos, photos without a face): each photo's subject
    (the face nearest its centre), the identity its sub-folder's name."""
    from ..images import list_images

    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    photos = [(folder.name, photo) for folder in folders for photo in list_images([folder])]
    if not photos:
        raise UsageError(f"{root}: no identity sub-folders with photos")
    vectors, labels, no_face = [], [], 0
    for (name, _), (vector, _) in zip(photos, central_vectors([p for _, p in photos], detector, embedder, progress)):
        if vector is None:
            no_face += 1
        else:
            vectors.append(vector)
            labels.append(name)
    return np.stack(vectors) if vectors else np.zeros((0, embedder.dim), np.float32), labels, len(photos), no_face


def evaluate_clustering(root: str | Path, detector, embedder, *, merge_score: float | None = None,
                        progress: Progress = no_progress) -> ClusterResult:
    """Cluster the subjects of the photos under root's identity sub-folders, as `facecam cluster`
    does, and measure the clusters against the sub-folders."""
    from ..clustering import MERGE_SCORE, cluster

    score = MERGE_SCORE if merge_score is None else merge_score
    vectors, labels, photos, no_face = folder_vectors(Path(root), detector, embedder, progress)
    if not labels:
        raise UsageError(f"{root}: no face found in any photo")
    cosine = embedder.min_cosine(score)
    m = measures(labels, cluster(vectors, cosine))
    return ClusterResult(model=embedder.name, merge_score=score, merge_cosine=round(cosine, 4), photos=photos,
                         faces=len(labels), no_face=no_face, **m)
