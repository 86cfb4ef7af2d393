"""Folder enrolment on the shared LFW subset: how many photos are skipped with the old rule (a
photo is a sample only when it holds exactly one face) and with facecam's main-face rule (its
largest face, when that face's area is at least MAIN_FACE_RATIO times the next one's), and
whether the face taken is the photo's subject. LFW photos are centred on their subject, so the
face taken must cover the image centre; any other face would enrol a bystander under the folder's
name.

    .venv/bin/python bench/main_face.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine  # noqa: E402

from facecam.enrol import MAIN_FACE_RATIO, main_face  # noqa: E402
from facecam.models import retinaface  # noqa: E402
from facecam.images import list_images, read_image  # noqa: E402


def main():
    detector = retinaface.load(device="cpu")
    photos = list_images([data_dir() / "recognition" / "lfw"])
    one_face = taken = wrong = several = 0
    for path in photos:
        image = read_image(path)
        faces = detector.detect(image)
        several += len(faces) > 1
        one_face += len(faces) == 1
        face, _ = main_face(faces)
        if face is not None:
            taken += 1
            cx, cy = image.shape[1] / 2, image.shape[0] / 2
            x1, y1, x2, y2 = face.box
            wrong += not (x1 <= cx <= x2 and y1 <= cy <= y2)
    n = len(photos)
    print(f"Machine: {machine()}. {n} photos of {len({p.parent for p in photos})} people; {several} hold more than one face.\n")
    print("| rule | photos enrolled | skipped | skip rate | face taken is not the photo's subject |")
    print("|---|---|---|---|---|")
    print(f"| exactly one face (before) | {one_face} | {n - one_face} | {(n - one_face) / n:.2%} | 0 |")
    print(f"| main face: largest, at least {MAIN_FACE_RATIO}x the next one's area (now) | {taken} | {n - taken} | "
          f"{(n - taken) / n:.2%} | {wrong} |")


if __name__ == "__main__":
    main()
