"""Grouping faces by person, with no one enrolled: average-linkage agglomerative clustering on
cosine similarity, cut where the average similarity between two groups falls below a score on the
embedder's calibrated scale.

Two groups are merged only when their average similarity reaches the cut, so at least one pair
across them reaches it. The faces are therefore first split into the connected components of the
graph of pairs that reach the cut (found from blocked matrix products, memory O(BLOCK x N)); a
component of up to LINKAGE_MAX faces is clustered by SciPy's linkage, whose memory is quadratic.
A larger one (many faces of many people, as 100,000 faces are) is clustered on that sparse graph
itself, with the same result: the average similarity of two groups of unit vectors is the dot
product of their sums over the product of their sizes, so merging the most similar pair of
neighbouring groups first, until none reaches the cut, is the same linkage in O(edges) memory.
"""

from __future__ import annotations

import heapq

import numpy as np

BLOCK = 2048  # rows of the similarity matrix computed at once (BLOCK x N float32)
LINKAGE_MAX = 8000  # faces in one component SciPy's linkage takes (its distances: 8 x N^2 / 2 bytes, 256 MB)
MERGE_SCORE = 0.7  # the default cut, on the calibrated scale (bench/cluster_accuracy.py)


def cluster(vectors: np.ndarray, min_cosine: float) -> np.ndarray:
    """Labels (N,) int64 for L2-normalised vectors (N, D): faces whose groups' average cosine
    reaches min_cosine share a label. Labels are 0..K-1, numbered in the order of each group's
    first face, so the same faces in the same order always get the same labels."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    vectors = np.asarray(vectors, np.float32)
    n = len(vectors)
    if n == 0:
        return np.zeros(0, np.int64)
    r, c, cosines = _pairs(vectors, min_cosine)
    _, component = connected_components(coo_matrix((np.ones(len(r), np.int8), (r, c)), shape=(n, n)), directed=False)
    groups = np.arange(n)  # a face alone is its own group: named by its index
    order = np.argsort(component, kind="stable")
    large = []
    for members in np.split(order, np.flatnonzero(np.diff(component[order])) + 1):
        if len(members) == 2:
            groups[members] = members[0]  # one pair, joined by its edge
        elif len(members) > LINKAGE_MAX:
            large.append(members)
        elif len(members) > 2:
            tree = linkage(vectors[members].astype(np.float64), method="average", metric="cosine")
            flat = fcluster(tree, t=1.0 - min_cosine, criterion="distance")
            for label in np.unique(flat):
                chosen = members[flat == label]
                groups[chosen] = chosen.min()
    if large:
        inside = np.zeros(n, bool)
        inside[np.concatenate(large)] = True
        keep = inside[r]  # both ends of an edge are in one component
        groups[inside] = _sparse_linkage(vectors, r[keep], c[keep], cosines[keep], min_cosine)[inside]
    _, labels = np.unique(groups, return_inverse=True)  # groups are named by their first face: in order
    return labels.astype(np.int64)


def _pairs(vectors: np.ndarray, min_cosine: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, cosine) with i < j of every pair whose cosine reaches min_cosine."""
    rows, cols, cosines = [], [], []
    for start in range(0, len(vectors), BLOCK):
        block = vectors[start:start + BLOCK] @ vectors.T
        r, c = np.nonzero(block >= min_cosine)
        upper = c > r + start
        r, c = r[upper], c[upper]
        cosines.append(block[r, c])
        rows.append(r + start)
        cols.append(c)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(cosines)


def _sparse_linkage(vectors: np.ndarray, r: np.ndarray, c: np.ndarray, cosines: np.ndarray,
                    min_cosine: float) -> np.ndarray:
    """Average linkage over the pairs (r, c) that reach the cut: each face's group, named by its
    first face. Groups are merged most similar first, the similarity of two groups being
    sum(A) . sum(B) / (|A| |B|); only groups joined by a pair can reach the cut."""
    n = len(vectors)
    sums, sizes = vectors.astype(np.float64), np.ones(n)
    neighbours: list[set] = [set() for _ in range(n)]
    for i, j in zip(r.tolist(), c.tolist()):
        neighbours[i].add(j)
        neighbours[j].add(i)
    version = [0] * n  # a group's version changes when it grows: older heap entries about it are stale
    heap = [(-s, i, j, 0, 0) for i, j, s in zip(r.tolist(), c.tolist(), cosines.astype(np.float64).tolist())]
    heapq.heapify(heap)
    parent = np.arange(n)
    while heap:
        _, i, j, vi, vj = heapq.heappop(heap)
        if parent[i] != i or parent[j] != j or version[i] != vi or version[j] != vj:
            continue  # one of them was merged, or grew, since
        if j < i:
            i, j = j, i  # the group keeps the name of its first face
        parent[j] = i
        sums[i] += sums[j]
        sizes[i] += sizes[j]
        version[i] += 1
        joined = (neighbours[i] | neighbours[j]) - {i, j}
        for k in neighbours[j]:
            neighbours[k].discard(j)
            neighbours[k].add(i)
        neighbours[i], neighbours[j] = joined, set()
        if joined:
            others = np.fromiter(joined, np.int64, len(joined))
            similarity = sums[others] @ sums[i] / (sizes[others] * sizes[i])
            for k, s in zip(others.tolist(), similarity.tolist()):
                if s >= min_cosine:
                    heapq.heappush(heap, (-s, i, k, version[i], version[k]))
    while True:  # every face to the first face of its group
        up = parent[parent]
        if np.array_equal(up, parent):
            return parent
        parent = up


# --- a folder of photos, grouped by person (`facecam cluster`)

EMBED_BATCH = 64  # faces embedded at once


def photo_faces(photos, detector, embedder, *, progress=lambda done, total: None):
    """Every face of every photo: (faces [(photo, Detection)], vectors (N, D), unreadable
    [(photo, reason)]). Faces are embedded in batches as they are found."""
    from .errors import FacecamError
    from .images import read_image

    faces, vectors, unreadable, crops = [], [], [], []
    for done, photo in enumerate(photos, 1):
        try:
            image = read_image(photo)
        except FacecamError as err:
            unreadable.append((photo, str(err)))
        else:
            for face in detector.detect(image):
                faces.append((photo, face))
                crops.append(embedder.crop(image, face.landmarks))
            if len(crops) >= EMBED_BATCH:
                vectors.append(embedder.embed_crops(np.stack(crops)))
                crops = []
        progress(done, len(photos))
    if crops:
        vectors.append(embedder.embed_crops(np.stack(crops)))
    return faces, (np.concatenate(vectors) if vectors else np.zeros((0, embedder.dim), np.float32)), unreadable


def sized_groups(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Group numbers 0.. for the clusters of at least min_size faces, largest first (ties: the
    cluster seen first), -1 for the faces of smaller clusters."""
    sizes = np.bincount(labels) if len(labels) else np.zeros(0, np.int64)
    big = [k for k in sorted(range(len(sizes)), key=lambda k: (-sizes[k], k)) if sizes[k] >= min_size]
    number = np.full(len(sizes), -1, np.int64)
    number[big] = np.arange(len(big))
    return number[labels] if len(labels) else labels


def write_groups(out, faces, groups, *, link: bool) -> list[dict]:
    """One sub-folder per group under `out` (group-001, group-002, ... largest first) holding its
    photos (copies, or symbolic links with link); a photo with faces in several groups goes in
    each. Returns the groups' entries."""
    import os
    import shutil
    from pathlib import Path

    out = Path(out)
    entries = []
    for number in range(int(groups.max()) + 1 if len(groups) else 0):
        folder = out / f"group-{number + 1:03d}"
        folder.mkdir(parents=True)
        photos = list(dict.fromkeys(photo for (photo, _), g in zip(faces, groups) if g == number))
        taken = set()
        for photo in photos:
            name = Path(photo).name
            if name in taken:  # two photos of one name from different folders
                name = f"{Path(name).stem}-{len(taken)}{Path(name).suffix}"
            taken.add(name)
            target = folder / name
            if link:
                os.symlink(Path(photo).resolve(), target)
            else:
                shutil.copy2(photo, target)
        entries.append({"group": folder.name, "faces": int(np.sum(groups == number)), "photos": len(photos)})
    return entries
