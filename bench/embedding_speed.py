"""Embedding speed: ms per face for each facecam embedder (batch 1 and batch 8) next to
face_recognition.face_encodings on the same faces, in one run, on 2 threads.

Per face, both sides do the same work: landmarks -> aligned crop -> network -> vector, given the
face's location (detection is timed in bench/detection_speed.py). face_recognition runs dlib's
5-point predictor and dlib's network; facecam aligns RetinaFace's landmarks (found beforehand,
as face_recognition's box is) and runs its torch network. ir50/iresnet50 run with random weights
of the exact layout (their compute does not depend on the values).

    .ci/setup bench && .venv/bin/python bench/embedding_speed.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine, median_ms  # noqa: E402

THREADS = 2
FACES = 16


def per_face_ms(fn, faces: int, repeats: int = 5) -> float:
    return median_ms(fn, repeats) / faces


def main():
    os.environ["FACECAM_THREADS"] = str(THREADS)
    import dlib
    import face_recognition
    import torch

    from facecam.models import irse, load_embedder, retinaface
    from facecam.images import read_image

    detector = retinaface.load(device="cpu")
    paths = sorted((data_dir() / "recognition" / "lfw").glob("*/*_0001.jpg"))[:FACES]
    images, faces = [], []
    for p in paths:
        image = read_image(p)
        images.append(image)
        faces.append(detector.detect(image)[0])
    rgb = [np.ascontiguousarray(i[..., ::-1]) for i in images]
    # face_recognition's (top, right, bottom, left) boxes for the same faces
    locations = [(int(f.box[1]), int(f.box[2]), int(f.box[3]), int(f.box[0])) for f in faces]

    def reference():
        for image, loc in zip(rgb, locations):
            face_recognition.face_encodings(image, known_face_locations=[loc], model="small")

    t_ref = per_face_ms(reference, FACES)

    embedders = {"sface": load_embedder("sface", device="cpu"), "dlib-resnet": load_embedder("dlib-resnet", device="cpu")}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FACECAM_MODELS"] = tmp
        from facecam.models.imports import import_model

        for arch in ("ir50", "iresnet50"):
            path = Path(tmp) / f"{arch}-random.pth"
            torch.save(irse.ARCHITECTURES[arch][0]().state_dict(), path)  # the layout, freshly initialised
            import_model(path, arch=arch, name=f"{arch}-random", threshold=0.4)
            embedders[f"{arch} (random weights)"] = irse.load(f"{arch}-random", device="cpu")

    print(f"Machine: {machine()}; dlib {dlib.__version__} ({THREADS} threads for torch; dlib's CPU "
          f"build as installed); {FACES} LFW faces, median of 5 runs.\n")
    print("| embedder | ms/face, batch 1 | ms/face, batch 8 | face_recognition ms/face | speed-up (batch 1) |")
    print("|---|---|---|---|---|")
    for name, emb in embedders.items():
        def batch1():
            for image, face in zip(images, faces):
                emb.embed(image, [face])

        def batch8():
            for start in range(0, FACES, 8):
                crops = np.stack([emb.crop(i, f.landmarks) for i, f in zip(images[start:start + 8], faces[start:start + 8])])
                emb.embed_crops(crops)

        t1, t8 = per_face_ms(batch1, FACES), per_face_ms(batch8, FACES)
        print(f"| {name} | {t1:.1f} | {t8:.1f} | {t_ref:.1f} | {t_ref / t1:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
