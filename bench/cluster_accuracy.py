"""Grouping faces by person, in one run: facecam's clustering (`facecam eval cluster`, its default
merge score, and a sweep of it) next to face_recognition's usual recipe (its documented encodings,
DBSCAN with eps 0.5 and min_samples 1) on all the shared LFW photos and the East-Asian identities;
the time to cluster 1,000 to 100,000 faces; and the correction experiment (how often a stranger is
given an enrolled name again before and after one "not them" correction).

    .ci/setup bench && .venv/bin/python bench/cluster_accuracy.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, git_commit, machine  # noqa: E402
from embedding_accuracy import facecam_json, fr_vector  # noqa: E402


def fr_recipe(root: Path) -> tuple[dict, int]:
    """face_recognition's encodings of each photo's subject, DBSCAN(eps=0.5, min_samples=1); a photo
    whose face it does not find is a cluster of its own (it is missed, not merged)."""
    from sklearn.cluster import DBSCAN

    from facecam.evaluation.cluster import measures

    photos = [(folder.name, photo) for folder in sorted(p for p in root.iterdir() if p.is_dir())
              for photo in sorted(folder.iterdir())]
    vectors = [fr_vector(str(photo)) for _, photo in photos]
    found = [k for k, v in enumerate(vectors) if v is not None]
    labels = np.arange(len(photos)) + 10**6  # the missed ones: alone
    labels[found] = DBSCAN(eps=0.5, min_samples=1).fit_predict(np.stack([vectors[k] for k in found]))
    return measures([name for name, _ in photos], labels), len(photos) - len(found)


def sweep(root: Path, embedder, detector) -> list[tuple]:
    from facecam.clustering import cluster
    from facecam.evaluation.cluster import folder_vectors, measures

    vectors, labels, _, _ = folder_vectors(root, detector, embedder)
    return [(score, measures(labels, cluster(vectors, embedder.min_cosine(score)))) for score in (0.6, 0.65, 0.7, 0.75, 0.8)], vectors, labels


def timing(vectors: np.ndarray, embedder) -> list[tuple]:
    """Faces made from the real LFW vectors: each real face stands for a person seen several times
    (copies with noise, about as far from it as the LFW photos of one person are from each other)."""
    from facecam.clustering import cluster

    rng = np.random.default_rng(0)
    out = []
    for n in (1_000, 10_000, 30_000, 100_000):
        base = vectors[rng.integers(0, len(vectors), n)]
        faces = base + rng.normal(size=base.shape).astype(np.float32) * 0.06  # cosine 0.83 to the real face
        faces /= np.linalg.norm(faces, axis=1, keepdims=True)
        start = time.perf_counter()
        labels = cluster(faces.astype(np.float32), embedder.min_cosine(0.7))
        out.append((n, time.perf_counter() - start, int(labels.max()) + 1))
    return out


def corrections(vectors: np.ndarray, labels: list[str], embedder) -> list[tuple]:
    """LFW identities with 2 or more photos, alternately enrolled (first photo; the rest are their
    own probes) and strangers (first photo: the one corrected; the rest: tested). At each
    threshold: strangers whose first photo is given a name, how many of their other photos get
    that name before and after the correction, and the enrolled people's own probes named."""
    from facecam.registry import Registry

    labels = np.array(labels)
    names = [n for n in sorted(set(labels)) if (labels == n).sum() >= 2]
    enrolled, strangers = names[0::2], names[1::2]
    out = []
    for threshold in (0.8, 0.7, 0.6, 0.5):
        reg = Registry(path=Path("."), model=embedder.model_info)
        own = []
        for name in enrolled:
            rows = np.flatnonzero(labels == name)
            reg.add(name, vectors[rows[:1]], [{"source": "bench"}])
            own += [(name, r) for r in rows[1:]]
        cosine = embedder.min_cosine(threshold)

        def named(rows):
            return [m.name for m in reg.match(vectors[rows], cosine)]

        def own_rate():
            return float(np.mean([m == name for (name, _), m in zip(own, named([r for _, r in own]))]))

        before = own_rate()
        wrong = {}
        for s in strangers:
            rows = np.flatnonzero(labels == s)
            given = named(rows[:1])[0]
            if given is not None:
                wrong[s] = (given, rows[0], rows[1:])
        again = sum(sum(m == given for m in named(rest)) for given, _, rest in wrong.values())
        later = sum(len(rest) for _, _, rest in wrong.values())
        for given, first, _ in wrong.values():
            reg.add(given, vectors[first][None], [{"source": "correction", "negative": True}])
        after = sum(sum(m == given for m in named(rest)) for given, _, rest in wrong.values())
        out.append((threshold, len(enrolled), len(own), len(strangers), len(wrong), later, again, after, before, own_rate()))
    return out


def main() -> None:
    from facecam.models import load_embedder, retinaface

    data = data_dir()
    lfw, asian = data / "recognition/lfw", data / "recognition/asian"
    embedder = load_embedder(None, device="cpu")
    detector = retinaface.load(None, device="cpu", threshold=0.6, max_size=640)
    rows = []
    for title, root in (("LFW (1,721 photos, 735 people)", lfw), ("East-Asian (76 photos, 19 people)", asian)):
        ours = facecam_json("eval", "cluster", "--root", root)
        theirs, missed = fr_recipe(root)
        rows.append((title, ours, theirs, missed))
    lfw_sweep, vectors, labels = sweep(lfw, embedder, detector)
    asian_sweep, _, _ = sweep(asian, embedder, detector)
    times = timing(vectors, embedder)
    fixes = corrections(vectors, labels, embedder)

    print(f"Machine: {machine()}; commit {git_commit()}.\n")
    print("| set | pipeline | BCubed precision | BCubed recall | BCubed F | pairwise precision | pairwise recall | clusters / people |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for title, ours, theirs, missed in rows:
        print(f"| {title} | facecam {ours['model']}, merge score {ours['merge_score']} | {ours['bcubed_precision']:.4f} | "
              f"{ours['bcubed_recall']:.4f} | **{ours['bcubed_f']:.4f}** | {ours['pairwise_precision']:.4f} | "
              f"{ours['pairwise_recall']:.4f} | {ours['clusters']} / {ours['identities']} |")
        print(f"| | face_recognition 1.3.0 + DBSCAN (eps 0.5, min_samples 1){f'; {missed} faces not found' if missed else ''} | "
              f"{theirs['bcubed_precision']:.4f} | {theirs['bcubed_recall']:.4f} | **{theirs['bcubed_f']:.4f}** | "
              f"{theirs['pairwise_precision']:.4f} | {theirs['pairwise_recall']:.4f} | "
              f"{theirs['clusters']} / {theirs['identities']} |")
        print(f"| | F ratio facecam / face_recognition | | | {ours['bcubed_f'] / theirs['bcubed_f']:.3f} | | | |")
    print("\nThe merge score, swept (BCubed precision / recall / F):\n")
    print("| merge score | LFW | East-Asian |")
    print("| --- | --- | --- |")
    for (score, m), (_, a) in zip(lfw_sweep, asian_sweep):
        print(f"| {score} | {m['bcubed_precision']:.4f} / {m['bcubed_recall']:.4f} / {m['bcubed_f']:.4f} | "
              f"{a['bcubed_precision']:.4f} / {a['bcubed_recall']:.4f} / {a['bcubed_f']:.4f} |")
    print("\nTime to cluster (faces made from the LFW vectors: each real face copied with noise):\n")
    print("| faces | seconds | groups |")
    print("| --- | --- | --- |")
    for n, seconds, groups in times:
        print(f"| {n:,} | {seconds:.2f} | {groups:,} |")
    print("\nCorrections: LFW people with 2+ photos, alternately enrolled (1 photo) and strangers; each stranger "
          "taken for someone on their first photo is corrected once (`history correct --not-name`):\n")
    print("| threshold | enrolled / their probes | strangers / taken for someone | their later photos | "
          "given that name again: before | after | probes named: before | after |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for t, people, probes, strangers, wrong, later, again, after, before_rate, after_rate in fixes:
        print(f"| {t} | {people} / {probes} | {strangers} / {wrong} | {later} | {again} | {after} | "
              f"{before_rate:.2%} | {after_rate:.2%} |")


if __name__ == "__main__":
    main()
