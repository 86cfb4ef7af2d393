"""Where frames come from. Images are read by content, not by extension (JPEG, PNG, BMP, GIF...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError

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
