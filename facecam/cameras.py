"""The local cameras: which index is which device, what it is called, the sizes it accepts."""

from __future__ import annotations

import platform
import re
from pathlib import Path

COMMON_SIZES = ((320, 240), (640, 360), (640, 480), (800, 600), (1280, 720), (1280, 960), (1920, 1080), (2560, 1440),
                (3840, 2160))


def list_cameras(probe_sizes: bool = True) -> list[dict]:
    """[{"index", "device", "name", "size", "fps", "fourcc", "sizes"}] for each camera that opens.
    On Linux the /dev/video* devices (their names from sysfs; metadata nodes that do not open are
    left out); elsewhere indices 0-9. sizes: the common sizes the camera took when asked (each
    asked in turn and read back), when probe_sizes."""
    import cv2

    if platform.system() == "Linux":
        numbers = sorted(int(m.group(1)) for p in Path("/dev").glob("video*") if (m := re.fullmatch(r"video(\d+)", p.name)))
        backend = cv2.CAP_V4L2
    else:
        numbers, backend = list(range(10)), cv2.CAP_ANY
    found = []
    for number in numbers:
        capture = cv2.VideoCapture(number, backend)
        try:
            if not capture.isOpened():
                continue
            code = int(capture.get(cv2.CAP_PROP_FOURCC))
            entry = {"index": number, "device": f"/dev/video{number}" if backend == cv2.CAP_V4L2 else None,
                     "name": _name(number),
                     "size": [int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))],
                     "fps": round(capture.get(cv2.CAP_PROP_FPS), 2),
                     "fourcc": "".join(chr((code >> 8 * k) & 0xFF) for k in range(4)).strip("\0 ") or None, "sizes": []}
            if probe_sizes:
                for width, height in COMMON_SIZES:
                    capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                    capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
                    got = [int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))]
                    if got == [width, height]:
                        entry["sizes"].append(f"{width}x{height}")
            found.append(entry)
        finally:
            capture.release()
    return found


def _name(number: int) -> str | None:
    try:
        return Path(f"/sys/class/video4linux/video{number}/name").read_text().strip() or None
    except OSError:
        return None
