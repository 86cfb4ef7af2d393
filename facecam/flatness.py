"""Whether a face turned as a head does, or as a picture held up to the camera does.

A photo turned in the hand moves as a plane: the face and what is printed around it move
together, by one homography. A head turning moves in depth (the nose across the cheek, the far
side hidden) and the scene behind it stays. Corner features matched between the view when the
person was asked to turn and the view now, in a region twice the face's size: when most matches
fit one homography the motion was flat. (Five landmarks cannot tell: on a print turned 40 degrees
the detector places them as on a turned head.)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FEATURES = 500  # ORB corners per view
MIN_MATCHES = 20  # fewer cannot tell a plane from a head
PLANE_SHARE = 0.5  # matches one homography explains, from which the motion is taken for flat
TOLERANCE = 0.05  # of the eye distance: how far a match may lie from the homography's prediction


@dataclass
class View:
    """A grey copy of the region around a face, where it lies in the frame, and its eye distance."""

    grey: np.ndarray
    origin: np.ndarray
    eye_distance: float


def view(image: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> View:
    """The face's box grown by its own size on every side (the print's margin, or the scene)."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    left, top = int(max(0, x1 - w)), int(max(0, y1 - h))
    right, bottom = int(min(image.shape[1], x2 + w)), int(min(image.shape[0], y2 + h))
    grey = cv2.cvtColor(image[top:bottom, left:right], cv2.COLOR_BGR2GRAY) if right > left and bottom > top else None
    return View(grey, np.array([left, top], np.float32), float(np.linalg.norm(landmarks[1] - landmarks[0])))


def flat(before: View, after: View) -> bool | None:
    """True: the region moved as one plane (a picture); False: it did not (a head in a scene);
    None: too few features matched to tell."""
    if before.grey is None or after.grey is None:
        return None
    orb = cv2.ORB_create(FEATURES)
    points_before, described_before = orb.detectAndCompute(before.grey, None)
    points_after, described_after = orb.detectAndCompute(after.grey, None)
    if described_before is None or described_after is None:
        return None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(described_before, described_after)
    if len(matches) < MIN_MATCHES:
        return None
    a = np.float32([points_before[m.queryIdx].pt for m in matches]) + before.origin
    b = np.float32([points_after[m.trainIdx].pt for m in matches]) + after.origin
    _, inliers = cv2.findHomography(a, b, cv2.RANSAC, max(1.0, TOLERANCE * after.eye_distance))
    return inliers is not None and float(inliers.mean()) >= PLANE_SHARE
