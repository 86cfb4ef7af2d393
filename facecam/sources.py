"""Where frames come from: image files (read by content, not by extension), cameras, videos, streams."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DeviceError, InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm"}


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file into BGR uint8 HxWx3 (alpha dropped, grayscale expanded)."""
    import cv2

    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)  # works for non-ASCII paths, unlike cv2.imread
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(f"{path}: not a readable image")
    return image


def list_images(paths: list[str | Path]) -> list[Path]:
    """Expand folders (recursively, sorted) into image files; files named directly are kept as is.

    A folder is filtered by image suffix; a path that does not exist is an InputError.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return out


@dataclass
class Frame:
    index: int  # 0, 1, 2, ... in the order read
    time: float  # seconds: the position in a video file, since opening for a live source; a folder: the index
    image: np.ndarray  # BGR uint8 HxWx3


class FrameSource:
    """Frames from a camera (an index), a video file, a stream URL, or a folder of images.

    Opening fails with a one-line error naming what was tried. A live source (camera, stream) that
    stops delivering frames ends the iteration with `stopped` set; a file or folder just ends.
    """

    CAMERA_RETRIES = 30  # consecutive failed reads (about a second) before a live source is given up

    def __init__(self, camera: int = 0, source: str | Path | None = None):
        import cv2

        self.stopped = False
        self._images: list[Path] | None = None
        self._capture = None
        if source is None:
            self.name, self.live = f"camera {camera}", True
            self._capture = cv2.VideoCapture(camera)
            if not self._capture.isOpened():
                found = sorted(str(p) for p in Path("/dev").glob("video*"))
                raise DeviceError(f"camera {camera} could not be opened (video devices on this machine: "
                                  f"{', '.join(found) or 'none'}); use --camera N or --source FILE")
        elif "://" in str(source):
            self.name, self.live = str(source), True
            self._capture = cv2.VideoCapture(str(source))
            if not self._capture.isOpened():
                raise InputError(f"{source}: the stream could not be opened")
        else:
            path = Path(source)
            self.name, self.live = str(path), False
            if path.is_dir():
                self._images = list_images([path])
                if not self._images:
                    raise InputError(f"{path}: no images in this folder")
            elif not path.exists():
                raise InputError(f"{path}: no such file or folder")
            else:
                self._capture = cv2.VideoCapture(str(path))
                if not self._capture.isOpened() or self._capture.get(cv2.CAP_PROP_FRAME_COUNT) <= 0:
                    self.close()
                    raise InputError(f"{path}: not a readable video")
        fps = self._capture.get(cv2.CAP_PROP_FPS) if self._capture is not None else 0.0
        self.fps = fps if 1.0 <= fps <= 240.0 else None  # cameras and streams may report nonsense

    def __iter__(self):
        import time

        start = time.monotonic()
        if self._images is not None:
            for index, path in enumerate(self._images):
                yield Frame(index, float(index), read_image(path))
            return
        index = failures = 0
        while self._capture is not None:
            ok, image = self._capture.read()
            if not ok or image is None:
                failures += 1
                if not self.live and index == 0:
                    raise InputError(f"{self.name}: no frame could be decoded")
                if not self.live or failures >= self.CAMERA_RETRIES:
                    self.stopped = self.live
                    return
                time.sleep(0.03)
                continue
            failures = 0
            seconds = index / self.fps if not self.live and self.fps else time.monotonic() - start
            yield Frame(index, seconds, image)
            index += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
