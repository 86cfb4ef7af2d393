"""The central-face protocol of `facecam calibrate --folder` and `facecam eval`: every shared LFW
photo read, detected and its subject embedded, one by one (as before) and in batches of 16
(evaluation.common.central_vectors), side by side in one run; the vectors compared.

    .venv/bin/python bench/central_faces.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, git_commit, machine  # noqa: E402

from facecam.evaluation.common import central_vectors  # noqa: E402
from facecam.images import list_images, read_image  # noqa: E402
from facecam.models import load_embedder, retinaface  # noqa: E402


def one_by_one(paths, detector, embedder):
    out = []
    for path in paths:
        image = read_image(path)
        centre = np.array(image.shape[1::-1]) / 2
        face = min(detector.detect(image), key=lambda f: float(np.linalg.norm((f.box[:2] + f.box[2:]) / 2 - centre)),
                   default=None)
        out.append(None if face is None else embedder.embed(image, [face])[0])
    return out


def main():
    detector, embedder = retinaface.load(device="cpu"), load_embedder("sface", device="cpu")
    paths = list_images([data_dir() / "recognition" / "lfw"])
    one_by_one(paths[:32], detector, embedder)  # warm-up
    start = time.perf_counter()
    single = one_by_one(paths, detector, embedder)
    t_single = time.perf_counter() - start
    start = time.perf_counter()
    batched = [v for v, _ in central_vectors(paths, detector, embedder)]
    t_batched = time.perf_counter() - start
    same = sum((a is None) == (b is None) for a, b in zip(single, batched))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(single, batched) if a is not None and b is not None)
    n = len(paths)
    print(f"Machine: {machine()}; commit {git_commit()}. {n} LFW photos (250x250), sface.\n")
    print("| way | ms per photo | photos/s | vs one by one |")
    print("|---|---|---|---|")
    print(f"| one by one | {1000 * t_single / n:.1f} | {n / t_single:.0f} | 1.00 |")
    print(f"| batches of 16 | {1000 * t_batched / n:.1f} | {n / t_batched:.0f} | {t_single / t_batched:.2f}x faster |")
    print(f"\nThe same faces found in {same} of {n} photos; largest difference between the two ways' vector "
          f"components {diff:.1e} (float32 sums in another order).")


if __name__ == "__main__":
    main()
