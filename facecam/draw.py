"""Overlays drawn on BGR frames (in place)."""

from __future__ import annotations

import numpy as np

from .types import Detection

BOX = (0, 200, 0)
# left eye, right eye, nose, left mouth, right mouth (as seen in the image)
LANDMARK_COLOURS = ((0, 0, 255), (0, 255, 255), (255, 0, 255), (0, 255, 0), (255, 0, 0))


def detections(image: np.ndarray, faces: list[Detection]) -> np.ndarray:
    """Boxes, scores and the 5 landmarks, scaled to the image size."""
    import cv2

    thick = max(1, round(max(image.shape[:2]) / 500))
    for face in faces:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        cv2.rectangle(image, (x1, y1), (x2, y2), BOX, thick, cv2.LINE_AA)
        label = f"{face.score:.2f}"
        scale = 0.4 * thick
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        top = max(0, y1 - th - base - 2)
        cv2.rectangle(image, (x1, top), (x1 + tw + 4, top + th + base + 2), BOX, -1)
        cv2.putText(image, label, (x1 + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), thick, cv2.LINE_AA)
        for (x, y), colour in zip(face.landmarks, LANDMARK_COLOURS):
            cv2.circle(image, (int(round(x)), int(round(y))), thick + 1, colour, -1, cv2.LINE_AA)
    return image
