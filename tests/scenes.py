"""Scenes made from the shared Hamilton clip for the motion gate: the stage with nobody's face
in it as a camera would see it for minutes (sensor noise, a slow drift of the light, compression),
and someone arriving into it (the clip spliced after it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

NOISE = 4.0  # grey levels: a webcam's sensor noise in a lit room
DRIFT = 0.15  # the light swings by this share of its brightness ...
DRIFT_PERIOD = 60.0  # ... over this many seconds (a cloud, auto exposure)


def clip_frames(clip: Path, count: int | None = None) -> list[np.ndarray]:
    import cv2

    capture, frames = cv2.VideoCapture(str(clip)), []
    while count is None or len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames


def empty_stage(clip: Path, detector) -> np.ndarray:
    """The clip's first frame with every face the detector finds painted over (boxes grown by
    half, filled in from around them): the stage, nobody's face in it."""
    import cv2

    image = clip_frames(clip, 1)[0]
    mask = np.zeros(image.shape[:2], np.uint8)
    for face in detector.detect(image):
        x1, y1, x2, y2 = face.box
        grow_x, grow_y = 0.25 * (x2 - x1), 0.25 * (y2 - y1)
        cv2.rectangle(mask, (int(x1 - grow_x), int(y1 - grow_y)), (int(x2 + grow_x), int(y2 + grow_y)), 255, -1)
    return cv2.inpaint(image, mask, 9, cv2.INPAINT_TELEA)


def still_frames(background: np.ndarray, count: int, fps: float, *, seed: int = 0, start: int = 0):
    """`count` frames of a still scene: the background under a light that drifts slowly (DRIFT
    over DRIFT_PERIOD, a sine, so a looped stream has no jump) with fresh sensor noise in each."""
    rng = np.random.default_rng(seed)
    base = background.astype(np.float32)
    for index in range(start, start + count):
        gain = 1.0 + DRIFT * np.sin(2 * np.pi * index / (fps * DRIFT_PERIOD))
        noisy = base * gain + rng.normal(0.0, NOISE, base.shape).astype(np.float32)
        yield np.clip(noisy, 0, 255).astype(np.uint8)


def write_video(frames, path: Path, fps: float) -> int:
    """The frames as an MPEG-4 file (its compression flicker included); how many were written."""
    import cv2

    writer, count = None, 0
    for image in frames:
        if writer is None:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (image.shape[1], image.shape[0]))
        writer.write(image)
        count += 1
    writer.release()
    return count


def write_jpegs(frames, folder: Path, quality: int = 75) -> int:
    """The frames as folder/00000.jpg, ... (what tests/services.RtspServer streams)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, image in enumerate(frames, 1):
        cv2.imwrite(str(folder / f"{count - 1:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return count
