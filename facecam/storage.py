"""Safe file writes and content hashes, shared by the weight cache and the registry."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from pathlib import Path


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Write `path` all-or-nothing: a temporary file in the same folder, fsync, then rename.

    A crash or a full disk at any moment leaves either the old file or the new one, never a
    partial file; the temporary file is removed when the write fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, OSError) and not err.filename:  # e.g. a full disk at write or fsync: say where
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def locked(path: str | os.PathLike):
    """Hold an exclusive lock on `path`.lock while reading, changing and writing `path`, so that
    two facecam processes never overwrite each other's changes."""
    lock = Path(f"{path}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def write_image(path: str | os.PathLike, image) -> None:
    """Write a BGR uint8 image in the format its suffix names (.png, .jpg, ...), atomically."""
    import cv2

    from .errors import FacecamError

    path = Path(path)
    try:
        ok, encoded = cv2.imencode(path.suffix or ".png", image)
    except cv2.error:
        ok = False
    if not ok:
        raise FacecamError(f"{path}: cannot write an image of this kind (use .png or .jpg)")
    with atomic_write(path) as f:
        f.write(encoded.tobytes())
