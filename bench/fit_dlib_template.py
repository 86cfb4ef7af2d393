"""Fit where RetinaFace's 5 landmarks land in dlib's 150x150 face chip, and measure how close
facecam's dlib-resnet pipeline (RetinaFace + this template + the torch network) comes to dlib's
own (HOG detector + 5-point shape predictor + get_face_chip + dlib's network).

Needs the test extras (dlib-bin, face_recognition_models).

    .venv/bin/python bench/fit_dlib_template.py        # prints the template and the distances
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir  # noqa: E402


def chip_transform(details) -> np.ndarray:
    """dlib's image -> chip mapping (2x3) for a chip_details: its rotated rect onto the chip corners."""
    import cv2

    rect, angle = details.rect, details.angle
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    c, s = np.cos(angle), np.sin(angle)

    def corner(x, y):
        v = np.array([x, y]) - centre
        return centre + [c * v[0] - s * v[1], s * v[0] + c * v[1]]

    src = np.float32([corner(rect.left(), rect.top()), corner(rect.right(), rect.top()),
                      corner(rect.right(), rect.bottom())])
    size = details.cols - 1
    return cv2.getAffineTransform(src, np.float32([[0, 0], [size, 0], [size, size]]))


def main():
    import dlib

    from facecam.align import align
    from facecam.models import catalog, dlib_resnet, retinaface
    from facecam.images import read_image

    models = Path(catalog.locate(catalog.get("dlib-resnet"))).parent
    predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    hog = dlib.get_frontal_face_detector()
    reference = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    detector = retinaface.load(device="cpu")
    embedder = dlib_resnet.load(device="cpu")

    images = sorted((data_dir() / "recognition" / "lfw").glob("*/*.jpg"))
    samples = []  # (our landmarks mapped into dlib's chip, dlib's descriptor, image, our landmarks)
    for path in images:
        bgr = read_image(path)
        rgb = np.ascontiguousarray(bgr[..., ::-1])
        rects = hog(rgb, 1)
        ours = detector.detect(bgr)
        if not rects or not ours:
            continue
        rect = max(rects, key=lambda r: r.area())
        shape = predictor(rgb, rect)
        centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
        face = min(ours, key=lambda f: np.linalg.norm((f.box[:2] + f.box[2:]) / 2 - centre))
        matrix = chip_transform(dlib.get_face_chip_details(shape, 150, 0.25))
        in_chip = face.landmarks @ matrix[:, :2].T + matrix[:, 2]
        chip = np.array(dlib.get_face_chip(rgb, shape, 150, 0.25))
        samples.append((in_chip, np.array(reference.compute_face_descriptor(chip)), bgr, face.landmarks))

    fit, held_out = samples[0::2], samples[1::2]
    template = np.mean([s[0] for s in fit], axis=0)
    print(f"{len(samples)} faces found by both detectors out of {len(images)} LFW images")
    print("template (fitted on", len(fit), "faces):", np.round(template, 2).tolist())
    trials = [("fitted template, equal weights", template, None),
              ("fitted template, weights " + str(dlib_resnet.DLIB_LANDMARK_WEIGHTS), template, dlib_resnet.DLIB_LANDMARK_WEIGHTS),
              ("built-in template and weights", dlib_resnet.DLIB_TEMPLATE_150, dlib_resnet.DLIB_LANDMARK_WEIGHTS)]
    for label, tmpl, weights in trials:
        crops = np.stack([align(bgr, lm, tmpl, (150, 150), weights) for _, _, bgr, lm in held_out])
        ours = embedder.embed_crops(crops)
        theirs = np.stack([d for _, d, _, _ in held_out])
        theirs_n = theirs / np.linalg.norm(theirs, axis=1, keepdims=True)
        cos = np.sum(ours * theirs_n, axis=1)
        # dlib's own metric: Euclidean distance between raw descriptors; ours rescaled to dlib's norm
        dist = np.linalg.norm(ours * np.linalg.norm(theirs, axis=1, keepdims=True) - theirs, axis=1)
        print(f"{label}, {len(held_out)} held-out faces: descriptor distance to dlib's pipeline "
              f"mean {dist.mean():.4f}, median {np.median(dist):.4f}, 95th pct {np.percentile(dist, 95):.4f}; "
              f"cosine mean {cos.mean():.4f}")


if __name__ == "__main__":
    main()
