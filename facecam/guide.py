"""What guided enrolment asks of the person: the head directions to cover (the centre and a ring
around it, as a phone's face set-up does), where the face should be (an oval in the middle of the
preview), and what to say next, in the person's own terms.

Directions are in camera coordinates (yaw > 0: the nose points to the image's right, which is the
person's left); the preview is mirrored by default, so on screen they match the person's own
left and right. Yaw and pitch from the 5 landmarks wobble by about 3 and 6 degrees between
frames, so they are smoothed over frames and the ring leaves margins between its segments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# The nose tip stands about half an eye distance in front of the eyes (an adult's nose juts out
# some 30 mm, pupils sit some 63 mm apart), and the eyes-to-mouth distance is 1.16 eye distances
# on the ArcFace template, where the nose sits 0.495 of the way down from eyes to mouth.
NOSE_DEPTH = 0.5
NOSE_DOWN = 0.495


def head_pose(landmarks: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in degrees, roughly, from the 5 landmarks; 0, 0 is facing the camera.

    Yaw > 0: the nose points to the image's right; pitch > 0: the face is tilted up. The face's
    own axis (eye midpoint to mouth midpoint) is used, so in-plane roll does not count.
    """
    p = np.asarray(landmarks, np.float64)
    eyes, mouth, nose = (p[0] + p[1]) / 2, (p[3] + p[4]) / 2, p[2]
    down = mouth - eyes
    length = float(np.linalg.norm(down))
    eye_distance = float(np.linalg.norm(p[1] - p[0]))
    if length < 1e-6 or eye_distance < 1e-6:
        return 0.0, 0.0
    down /= length
    across = np.array([down[1], -down[0]])  # image-right for an upright face
    offset = nose - eyes
    side = float(offset @ across)  # the nose's shift off the face axis
    along = float(offset @ down) / length
    # a turned head shortens the eye distance by cos(yaw) and moves the nose by sin(yaw) * depth
    yaw = math.degrees(math.atan2(side, NOSE_DEPTH * eye_distance))
    # a tilted head moves the nose along the axis by sin(pitch) * depth
    sine = (NOSE_DOWN - along) * length / (NOSE_DEPTH * eye_distance / math.cos(math.radians(yaw)))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, sine))))
    return yaw, pitch


def pose_bin(yaw: float, pitch: float) -> str | None:
    """The pose bin of a head pose, or None between bins or beyond what enrolment should use."""
    if abs(yaw) > 50 or abs(pitch) > 40:
        return None
    if abs(yaw) <= 10 and abs(pitch) <= 8:
        return "frontal"
    if abs(yaw) >= 18 and abs(pitch) <= 15:
        return "right" if yaw > 0 else "left"
    if abs(pitch) >= 12 and abs(yaw) <= 12:
        return "up" if pitch > 0 else "down"
    return None


FRONTAL = "frontal"
RING_NAMES = {8: ("right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right"),
              4: ("right", "up", "left", "down")}
PITCH_SHARE = 0.8  # heads tilt less far than they turn
CENTRE_RADIUS = 0.5  # of the ring's angle: within it the face is frontal
RING_RADII = (0.85, 2.5)  # of the ring's angle: a ring direction between these
MARGIN = 4.0  # degrees left out at each edge of a ring segment, to enter it
HOLD = 10.0  # degrees past its edge a face may drift and stay in the segment it is in (hysteresis)
# What to say to reach each direction, the person's left being the camera's right
SAY = {"frontal": "look straight at the camera", "right": "turn your head to your left",
       "left": "turn your head to your right", "up": "tilt your head up", "down": "tilt your head down",
       "up-right": "look up and to your left", "up-left": "look up and to your right",
       "down-right": "look down and to your left", "down-left": "look down and to your right"}


@dataclass(frozen=True)
class Directions:
    """The centre and `count` ring directions (4 or 8) at `angle` degrees of yaw (pitch: angle x
    0.8), or with five=True the five poses of earlier versions (frontal, left, right, up, down)."""

    count: int = 8
    angle: float = 20.0
    five: bool = False

    def __post_init__(self):
        if not self.five and self.count not in RING_NAMES:
            raise ValueError(f"directions: {self.count}; use 4 or 8")
        if not 8.0 <= self.angle <= 45.0:
            raise ValueError(f"direction angle {self.angle:g}: use 8 to 45 degrees")

    @property
    def names(self) -> tuple[str, ...]:
        if self.five:
            return ("frontal", "left", "right", "up", "down")
        return (FRONTAL, *RING_NAMES[self.count])

    def of(self, yaw: float, pitch: float, held: str | None = None) -> str | None:
        """The direction a head pose is in, or None between directions or beyond them. held: the
        direction the face was in until now, kept while the pose stays within the margin around it
        (hysteresis: a face resting near a border does not flicker)."""
        if self.five:
            return pose_bin(yaw, pitch)
        u, v = yaw / self.angle, pitch / (self.angle * PITCH_SHARE)
        radius = math.hypot(u, v)
        if radius <= CENTRE_RADIUS * (1.3 if held == FRONTAL else 1.0):
            return FRONTAL
        low = RING_RADII[0] * (0.85 if held not in (None, FRONTAL) else 1.0)
        if not low <= radius <= RING_RADII[1]:
            return None
        step = 360.0 / self.count
        theta = math.degrees(math.atan2(v, u)) % 360.0
        k = round(theta / step) % self.count
        offset = abs((theta - k * step + 180.0) % 360.0 - 180.0)
        name = RING_NAMES[self.count][k]
        if held in RING_NAMES[self.count] and held != name:
            back = RING_NAMES[self.count].index(held) * step
            if abs((theta - back + 180.0) % 360.0 - 180.0) <= step / 2 + HOLD:
                return held
        if offset <= step / 2 - MARGIN or held == name:
            return name
        return None

    def angle_of(self, name: str) -> float | None:
        """Where a ring direction sits, in degrees counter-clockwise from the image's right (None
        for the centre)."""
        ring = self.names[1:] if not self.five else ("right", "up", "left", "down")
        if name not in ring:
            return None
        return ring.index(name) * 360.0 / len(ring)


class Smoother:
    """Yaw and pitch averaged over the last frames of one face (an exponential average); it starts
    over when the face jumps (a cut, another person) or was not seen."""

    def __init__(self, weight: float = 0.35):
        self.weight = weight
        self.yaw = self.pitch = None
        self._centre = None

    def update(self, face, pose: tuple[float, float] | None = None) -> tuple[float, float]:
        """The averaged (yaw, pitch) with this frame's face; pose: its head pose, when known already."""
        yaw, pitch = pose if pose is not None else head_pose(face.landmarks)
        x1, y1, x2, y2 = (float(v) for v in face.box)
        centre, size = ((x1 + x2) / 2, (y1 + y2) / 2), max(x2 - x1, 1.0)
        if self.yaw is None or math.dist(centre, self._centre) > size / 2:
            self.yaw, self.pitch = yaw, pitch
        else:
            self.yaw += self.weight * (yaw - self.yaw)
            self.pitch += self.weight * (pitch - self.pitch)
        self._centre = centre
        return self.yaw, self.pitch

    def reset(self) -> None:
        self.yaw = self.pitch = self._centre = None


def oval(width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The face guide: (centre, semi-axes) of an upright oval in the middle of the frame."""
    b = int(0.36 * height)
    return (width // 2, height // 2), (int(0.74 * b), b)


def inside_oval(face, width: int, height: int, slack: float = 0.75) -> bool:
    """Whether the face's centre lies well inside the guide (within `slack` of its semi-axes)."""
    (cx, cy), (a, b) = oval(width, height)
    x = (float(face.box[0] + face.box[2]) / 2 - cx) / (a * slack)
    y = (float(face.box[1] + face.box[3]) / 2 - cy) / (b * slack)
    return x * x + y * y <= 1.0
