"""Verification accuracy on the shared LFW fold-1 pairs (300 same, 300 different people) for each
facecam embedder (RetinaFace + alignment + network, cosine at the catalog threshold) and for the
face_recognition library run the documented way (HOG detector, face_encodings, distance <= 0.6),
side by side in one run. A pair whose face is not found counts as an error.

    .ci/setup bench && .venv/bin/python bench/embedding_accuracy.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine  # noqa: E402


def central(items, centre_of, size):
    centre = np.array(size) / 2
    return min(items, key=lambda it: np.linalg.norm(centre_of(it) - centre)) if items else None


def main():
    import face_recognition

    from facecam.models import load_embedder, retinaface
    from facecam.pairs import image_path, read_pairs
    from facecam.sources import read_image

    root = data_dir() / "recognition" / "lfw"
    pairs = read_pairs(data_dir() / "recognition" / "lfw_pairs_fold1.txt")
    keys = sorted({k for a, b, _ in pairs for k in (a, b)})
    same = np.array([s for _, _, s in pairs])
    detector = retinaface.load(device="cpu")
    rows = []
    for name in ("sface", "dlib-resnet"):
        emb = load_embedder(name, device="cpu")
        vectors = {}
        for key in keys:
            image = read_image(image_path(root, key))
            face = central(detector.detect(image), lambda f: (f.box[:2] + f.box[2:]) / 2, image.shape[1::-1])
            vectors[key] = emb.embed(image, [face])[0] if face else None
        scores = np.array([vectors[a] @ vectors[b] if vectors[a] is not None and vectors[b] is not None else np.nan
                           for a, b, _ in pairs])
        rows.append((f"facecam {name}", f"cosine >= {emb.default_threshold}",
                     # a missing face counts as a wrong answer: "different" for a same pair and vice versa
                     np.mean(np.where(np.isnan(scores), ~same, scores >= emb.default_threshold) == same),
                     int(np.isnan(scores).sum())))
    encodings = {}
    for key in keys:
        rgb = face_recognition.load_image_file(image_path(root, key))
        locations = face_recognition.face_locations(rgb)
        loc = central(locations, lambda l: np.array([(l[1] + l[3]) / 2, (l[0] + l[2]) / 2]), rgb.shape[1::-1])
        encodings[key] = face_recognition.face_encodings(rgb, [loc])[0] if loc else None
    distances = np.array([np.linalg.norm(encodings[a] - encodings[b]) if encodings[a] is not None and encodings[b] is not None
                          else np.nan for a, b, _ in pairs])
    rows.append(("face_recognition 1.3.0", "distance <= 0.6",
                 np.mean(np.where(np.isnan(distances), ~same, distances <= 0.6) == same), int(np.isnan(distances).sum())))

    print(f"Machine: {machine()}. LFW fold 1: {len(pairs)} pairs, {len(keys)} images.\n")
    print("| pipeline | rule | accuracy | pairs with a face not found |")
    print("|---|---|---|---|")
    for name, rule, acc, missing in rows:
        print(f"| {name} | {rule} | {acc * 100:.2f}% | {missing} |")


if __name__ == "__main__":
    main()
