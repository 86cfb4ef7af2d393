"""Checks on what comes from outside the program: people's names, camera indices, files given as
images or video sources, numbers from the environment. Each failure is a one-line error."""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from pathlib import Path

from .errors import InputError, UsageError

NAME_MAX = 100  # characters, after NFC normalisation
CAMERA_MAX = 63  # /dev/video0 ... /dev/video63; a negative index asks OpenCV for "any", which crashes it
# Unicode categories a name may not hold: control (Cc), format (Cf: zero-width and direction marks),
# surrogates, private use, unassigned, line and paragraph separators.
_FORBIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def shorten(text, limit: int = 40) -> str:
    """A name or string for an error message: quoted, with unprintable characters escaped, and
    cut to about `limit` characters as shown."""
    shown = ""
    for c in str(text):
        piece = c if c.isprintable() else repr(c)[1:-1]
        if len(shown) + len(piece) > limit:
            return f"'{shown}…'"
        shown += piece
    return f"'{shown}'"


def person_name(name) -> str:
    """The rule for a person's name: a string of 1 to 100 characters after NFC normalisation, no
    leading or trailing space, no whitespace but the plain space, no control or invisible
    characters (so a name cannot rewrite the terminal it is printed on, or look exactly like
    another). Returns the normalised name, doubled spaces made single ("Ada  Lovelace" is
    "Ada Lovelace")."""
    if not isinstance(name, str):
        raise UsageError(f"invalid name {shorten(name)}: a name is text")
    name = re.sub(" {2,}", " ", unicodedata.normalize("NFC", name))
    problem = None
    if not name or name.isspace():
        problem = "a name needs at least one character that is not a space"
    elif len(name) > NAME_MAX:
        problem = f"{len(name)} characters; at most {NAME_MAX}"
    elif name != name.strip():
        problem = "no leading or trailing spaces"
    else:
        bad = next((c for c in name if unicodedata.category(c) in _FORBIDDEN or (c.isspace() and c != " ")), None)
        if bad is not None:
            problem = f"control, invisible or special space characters are not allowed (U+{ord(bad):04X})"
    if problem:
        raise UsageError(f"invalid name {shorten(name)}: {problem}")
    return name


def camera_index(index) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= CAMERA_MAX:
        raise UsageError(f"invalid camera index {shorten(index)}: a whole number from 0 to {CAMERA_MAX}")
    return index


def env_int(name: str, default: int, low: int, high: int) -> int:
    """A whole number from the environment variable `name`, between low and high."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise UsageError(f"{name}={shorten(raw)}: must be a whole number from {low} to {high}")
    return value


def open_regular(path: str | os.PathLike, what: str = "a file") -> int:
    """An open file descriptor for reading `path`, which must be a regular file. Opened without
    blocking, so a FIFO or a device named by mistake is refused instead of hanging the program."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{path}: not a regular file; {what} must be a file")
    return fd


def source_path(path: Path) -> None:
    """A video source on disk: a folder, a regular file, or a device (e.g. /dev/video0)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or folder") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISCHR(mode)):
        raise InputError(f"{path}: not a video file, a folder of images or a device")


def hide_password(url: str) -> str:
    """A URL as it may be shown or stored (messages, logs, the history): the password of
    scheme://user:password@host becomes ***."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*):[^/@]*@", r"\1:***@", url)
