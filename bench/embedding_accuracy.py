"""Recognition accuracy on the shared data, facecam's embedders next to the face_recognition library
in one run: LFW fold-1 verification (10-fold protocol) and open-set identification on the shared
LFW identities and on the East-Asian identities (2 photos enrolled per person; people with fewer
than 3 photos are strangers).

facecam runs through its own `facecam eval pairs|identify --json`. face_recognition runs its
documented way (HOG detector, `face_encodings`, the face nearest the centre) under the same
protocol; its scores are negated distances, and "model threshold" means its 0.6 rule.

    .ci/setup bench && .venv/bin/python bench/embedding_accuracy.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine  # noqa: E402


def facecam_json(*args) -> dict:
    out = subprocess.run([sys.executable, "-m", "facecam", *map(str, args), "--json"], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def fr_vector(path, cache={}):  # noqa: B006 - a deliberate per-run cache
    import face_recognition

    if path not in cache:
        rgb = face_recognition.load_image_file(path)
        boxes = face_recognition.face_locations(rgb)
        centre = np.array(rgb.shape[1::-1]) / 2
        box = min(boxes, key=lambda b: np.linalg.norm([(b[1] + b[3]) / 2 - centre[0], (b[0] + b[2]) / 2 - centre[1]]), default=None)
        cache[path] = face_recognition.face_encodings(rgb, [box])[0] if box else None
    return cache[path]


def fr_pairs(pairs_file: Path, root: Path) -> dict:
    from facecam.evaluation.metrics import accuracy, kfold_accuracy, pair_folds, tar_at_far
    from facecam.evaluation.pairs import image_path, read_pairs

    pairs = read_pairs(pairs_file)
    scores = []
    for a, b, _ in pairs:
        va, vb = fr_vector(image_path(root, a)), fr_vector(image_path(root, b))
        scores.append(-np.linalg.norm(va - vb) if va is not None and vb is not None else np.nan)
    scores, same = np.array(scores), np.array([s for _, _, s in pairs])
    return {"accuracy_10fold": kfold_accuracy(scores, same, fold_of=pair_folds(pairs_file, len(pairs)))[0],
            "accuracy_at_threshold": accuracy(scores, same, -0.6),
            "tar_at_far_1e-2": tar_at_far(scores[same], scores[~same], 1e-2)[0],
            "skipped": int(np.isnan(scores).sum())}


def fr_identify(root: Path, gallery: int = 2) -> dict:
    from facecam.calibration import threshold_for_far
    from facecam.images import list_images

    enrolled, probes, strangers = {}, [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        photos = list_images([folder])
        if len(photos) > gallery:
            vectors = [v for v in map(fr_vector, photos[:gallery]) if v is not None]
            if vectors:
                enrolled[folder.name] = np.stack(vectors)
                probes += [(folder.name, fr_vector(p)) for p in photos[gallery:]]
                continue
        strangers += [v for v in map(fr_vector, photos) if v is not None]
    names = list(enrolled)

    def best(v):
        scores = [-np.linalg.norm(enrolled[n] - v, axis=1).min() for n in names]
        return names[int(np.argmax(scores))], max(scores)

    results = [(t, best(v)) if v is not None else (t, (None, -np.inf)) for t, v in probes]
    rank1 = np.mean([name == t for t, (name, _) in results])
    tar = np.mean([name == t and s >= -0.6 for t, (name, s) in results])
    out = {"enrolled": len(names), "probes": len(probes), "strangers": len(strangers), "rank1": rank1, "tar": tar}
    if strangers:
        stranger_scores = np.array([best(v)[1] for v in strangers])
        t1 = threshold_for_far(stranger_scores, 0.01)
        out["stranger_far"] = float(np.mean(stranger_scores >= -0.6))
        out["tar_at_far_1e-2"] = float(np.mean([name == t and s >= t1 for t, (name, s) in results]))
    return out


def main():
    data = data_dir() / "recognition"
    pairs_file, lfw, asian = data / "lfw_pairs_fold1.txt", data / "lfw", data / "asian"
    rows = []
    for model in ("sface", "dlib-resnet"):
        p = facecam_json("eval", "pairs", "--pairs", pairs_file, "--root", lfw, "--model", model)
        i = facecam_json("eval", "identify", "--root", lfw, "--gallery", 2, "--model", model)
        a = facecam_json("eval", "identify", "--root", asian, "--gallery", 2, "--model", model)
        rows.append((f"facecam {model} (threshold {p['threshold']})", p, i, a))
        print(rows[-1], file=sys.stderr, flush=True)
    rows.append(("face_recognition 1.3.0 (distance 0.6)", fr_pairs(pairs_file, lfw), fr_identify(lfw), fr_identify(asian)))

    i = rows[0][2]
    print(f"Machine: {machine()}. LFW fold 1: 600 pairs. LFW identification: {i['enrolled']} people enrolled with "
          f"2 photos, {i['probes']} probe photos, {i['strangers']} stranger photos. East-Asian identification: "
          f"{rows[0][3]['enrolled']} people, {rows[0][3]['probes']} probes, no strangers.\n")
    print("| pipeline | LFW pairs: 10-fold accuracy | at the model threshold | TAR at FAR 1% | LFW identification: rank-1 "
          "| enrolled named | strangers accepted | named at 1% strangers | East-Asian: rank-1 | enrolled named |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, p, i, a in rows:
        print(f"| {name} | {p['accuracy_10fold']:.2%} | {p['accuracy_at_threshold']:.2%} | {p['tar_at_far_1e-2']:.2%} | "
              f"{i['rank1']:.2%} | {i['tar']:.2%} | {i['stranger_far']:.2%} | {i['tar_at_far_1e-2']:.2%} | "
              f"{a['rank1']:.2%} | {a['tar']:.2%} |")


if __name__ == "__main__":
    main()
