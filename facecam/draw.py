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

    thick = _thickness(image)
    for face in faces:
        label_box(image, face.box, f"{face.score:.2f}", BOX)
        for (x, y), colour in zip(face.landmarks, LANDMARK_COLOURS):
            cv2.circle(image, (int(round(x)), int(round(y))), thick + 1, colour, -1, cv2.LINE_AA)
    return image


KNOWN, UNKNOWN, WARN = (0, 200, 0), (0, 0, 230), (0, 165, 255)


def _thickness(image: np.ndarray) -> int:
    return max(1, round(max(image.shape[:2]) / 500))


def label_box(image: np.ndarray, box, label: str, colour) -> None:
    """A box with a filled label above it (inside the image)."""
    import cv2

    thick = _thickness(image)
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, thick, cv2.LINE_AA)
    scale = 0.45 * thick
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    top = max(0, y1 - th - base - 2)
    left = max(0, min(x1, image.shape[1] - tw - 4))  # keep the label inside the image
    cv2.rectangle(image, (left, top), (left + tw + 4, top + th + base + 2), colour, -1)
    cv2.putText(image, label, (left + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)


def tracks(image: np.ndarray, visible) -> np.ndarray:
    """Each track's box with its id, name (or "unknown") and score."""
    for track in visible:
        name = track.name or "unknown"
        score = "" if track.score is None else f" {track.score:.2f}"
        label_box(image, track.face.box, f"#{track.id} {name}{score}", KNOWN if track.name else UNKNOWN)
    return image


def status(image: np.ndarray, lines: list[str], colour=(255, 255, 255)) -> np.ndarray:
    """Lines of text at the top left, on a dark band so they read on any frame."""
    import cv2

    thick = _thickness(image)
    scale = 0.5 * thick
    y = 0
    for line in lines:
        (tw, th), base = cv2.getTextSize(line, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        cv2.rectangle(image, (0, y), (tw + 10, y + th + base + 8), (0, 0, 0), -1)
        cv2.putText(image, line, (5, y + th + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
        y += th + base + 8
    return image


def pose_chart(image: np.ndarray, covered: set[str], current: str | None) -> np.ndarray:
    """A cross of the five pose bins at the top right: filled when covered, outlined otherwise,
    the current pose highlighted."""
    import cv2

    cell = max(18, image.shape[0] // 16)
    right, top = image.shape[1] - 3 * cell - 10, 10
    places = {"up": (1, 0), "left": (0, 1), "frontal": (1, 1), "right": (2, 1), "down": (1, 2)}
    for pose, (cx, cy) in places.items():
        p1 = (right + cx * cell, top + cy * cell)
        p2 = (p1[0] + cell - 3, p1[1] + cell - 3)
        cv2.rectangle(image, p1, p2, KNOWN if pose in covered else (90, 90, 90), -1 if pose in covered else 2)
        if pose == current:
            cv2.rectangle(image, p1, p2, (255, 255, 255), 2)
    return image
