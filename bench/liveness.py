"""Liveness (MiniFASNet) on real faces and what it costs.

The share of real faces judged live: the central face of every shared LFW and East-Asian photo
(photographs of real people: a camera saw a real face), and the Hamilton clip's faces of
Lin-Manuel Miranda, frame by frame; then the time of one check (two 80x80 networks) beside the
detector's and the embedder's time on the same faces, in one run.

    .ci/setup && .venv/bin/python bench/liveness.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, data_dir, machine, median_ms  # noqa: E402

from facecam.images import read_image  # noqa: E402
from facecam.models import minifasnet, retinaface, sface  # noqa: E402


def central(detector, image):
    faces = detector.detect(image)
    if not faces:
        return None
    centre = np.array(image.shape[1::-1]) / 2
    return min(faces, key=lambda f: float(np.hypot(*((f.box[:2] + f.box[2:]) / 2 - centre))))


def photos_live(detector, judge, folder: Path) -> tuple[int, int, list[float]]:
    scores = []
    for path in sorted(folder.rglob("*.jpg")):
        image = read_image(path)
        face = central(detector, image)
        if face is not None:
            scores.append(float(judge.score(image, [face.box])[0]))
    return sum(s >= judge.threshold for s in scores), len(scores), scores


def clip_live(detector, embedder, judge) -> tuple[int, int]:
    """Frames of the clip where the face matching Lin-Manuel Miranda's photo is judged live."""
    import cv2

    lin = read_image(REPO / "tests" / "data" / "people" / "Lin-Manuel Miranda" / "lin-manuel-miranda.jpg")
    reference = embedder.embed(lin, [central(detector, lin)])[0]
    capture = cv2.VideoCapture(str(REPO / "tests" / "data" / "short_hamilton_clip.mp4"))
    live = total = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        faces = detector.detect(image)
        if not faces:
            continue
        vectors = embedder.embed(image, faces)
        best = int(np.argmax(vectors @ reference))
        if embedder.scale.score(float(vectors[best] @ reference)) >= embedder.default_threshold:
            total += 1
            live += int(judge.score(image, [faces[best].box])[0] >= judge.threshold)
    return live, total


def main():
    detector, embedder, judge = retinaface.load(None, device="cpu"), sface.load(None, device="cpu"), minifasnet.load(device="cpu")
    print(f"Machine: {machine()}.\n")
    print("| real faces | judged live | lowest score |")
    print("|---|---|---|")
    for label, folder in (("LFW (central face of each photo)", data_dir() / "recognition" / "lfw"),
                          ("East-Asian set", data_dir() / "recognition" / "asian")):
        live, total, scores = photos_live(detector, judge, folder)
        print(f"| {label} | {live} of {total} ({live / total:.1%}) | {min(scores):.3f} |", flush=True)
    live, total = clip_live(detector, embedder, judge)
    print(f"| the Hamilton clip, Lin-Manuel Miranda's face, frame by frame | {live} of {total} ({live / total:.1%}) | |")

    photo = read_image(REPO / "tests" / "data" / "people" / "Lin-Manuel Miranda" / "lin-manuel-miranda.jpg")
    face = central(detector, photo)
    crop = embedder.crop(photo, face.landmarks)
    times = {"liveness check, one face": median_ms(lambda: judge.score(photo, [face.box]), 50),
             "liveness checks, 8 faces at once": median_ms(lambda: judge.score(photo, [face.box] * 8), 20) / 8,
             "embedding, one face": median_ms(lambda: embedder.embed_crops(crop[None]), 50),
             "detection, the photo (640 px)": median_ms(lambda: detector.detect(photo), 20)}
    print("\n| step | ms | against the embedding |")
    print("|---|---|---|")
    for label, ms in times.items():
        print(f"| {label} | {ms:.2f} | {ms / times['embedding, one face']:.2f} |")


if __name__ == "__main__":
    main()
