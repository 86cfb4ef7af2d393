"""Image files and bytes: decoded by content (not by extension), their size read from the header
before any pixel is decoded, so a small file that claims a huge image is refused first."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from . import config
from .errors import InputError
from .validate import open_regular


class ImageTooLarge(InputError):
    """An image whose header claims more pixels than the limit."""


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm"}


def read_image(path: str | Path, *, max_pixels: int | None = None) -> np.ndarray:
    """Decode an image file into BGR uint8 HxWx3 (alpha dropped, grayscale expanded).

    Only regular files are read (a FIFO would block forever); the size in the image's header is
    checked against max_pixels (default config.max_pixels()) before anything is decoded.
    """
    path = Path(path)
    limit = max_pixels or config.max_pixels()
    fd = open_regular(path, "an image")
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > 4 * limit + (1 << 20):  # more bytes than any image of `limit` pixels needs
            raise InputError(f"{path}: {size} bytes is too large for an image (limit {limit / 1e6:g} megapixels; "
                             f"FACECAM_MAX_PIXELS raises it)")
        data = f.read()
    return decode_image(data, str(path), max_pixels=limit)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image's header, without decoding its pixels; None when the bytes
    are not an image format that can be read. (Pillow warns about images of 89 to 179 megapixels;
    the command line silences that warning, facecam's own limit being lower.)"""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Image.DecompressionBombError:  # beyond Pillow's own limit (about 179 megapixels): ask its reader
        return _bomb_size(data)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return None


def _bomb_size(data: bytes) -> tuple[int, int]:
    """The size an image beyond Pillow's decompression-bomb limit claims, from the format's reader
    (Image.open refuses to say); (2**31, 2**31) when even that fails."""
    from PIL import Image

    for kind in Image.ID:
        factory, accept = Image.OPEN[kind]
        try:
            if accept is None or accept(data[:16]):
                with factory(io.BytesIO(data), "") as image:
                    return image.size
        except Exception:  # noqa: BLE001 - any reader's refusal just means "not this format"
            continue
    return (1 << 31, 1 << 31)


def decode_image(data: bytes, origin: str, *, max_pixels: int | None = None) -> np.ndarray:
    """Decode image bytes (any format OpenCV reads, told by content) into BGR uint8 HxWx3, after
    checking the pixel count its header claims against max_pixels."""
    import cv2

    limit = max_pixels or config.max_pixels()
    size = image_size(data) if data else None
    if size is None:
        raise InputError(f"{origin}: not a readable image")
    width, height = size
    if width * height > limit:
        claimed = "more than 179" if width >= 1 << 31 else f"{width}x{height} = {width * height / 1e6:.1f}"
        raise ImageTooLarge(f"{origin}: {claimed} megapixels; the limit is {limit / 1e6:g} "
                            f"(FACECAM_MAX_PIXELS raises it)")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None:
        raise InputError(f"{origin}: not a readable image")
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
