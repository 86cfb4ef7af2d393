"""Defaults and paths. Every path can be overridden by an environment variable."""

from __future__ import annotations

import os
from pathlib import Path

# Detector defaults: the long side of a frame is scaled down to this before detection (boxes are
# mapped back), which keeps a 1080p webcam frame as fast as a 640x360 one.
DETECT_MAX_SIZE = 640
DETECT_THRESHOLD = 0.6
NMS_IOU = 0.4


def cache_dir() -> Path:
    """Where converted and downloaded weights are kept (FACECAM_CACHE, else the user cache)."""
    env = os.environ.get("FACECAM_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "facecam"


def models_dir() -> Path:
    """Where imported weight files and their list live (FACECAM_MODELS, else the user data dir)."""
    env = os.environ.get("FACECAM_MODELS")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "facecam" / "models"


def cpu_threads() -> int:
    """Threads for torch on the CPU (FACECAM_THREADS, else every core this process may use).
    More than 8 per core only slows the networks down, and tens of thousands crash OpenMP."""
    from .validate import env_int

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return env_int("FACECAM_THREADS", cores, 1, 8 * cores)


# An image larger than this is refused from its header, before it is decoded: a few hundred bytes
# of PNG can claim 100000x100000 pixels (40 GB decoded). FACECAM_MAX_PIXELS changes it.
MAX_PIXELS = 50_000_000


def max_pixels() -> int:
    from .validate import env_int

    return env_int("FACECAM_MAX_PIXELS", MAX_PIXELS, 1, 1 << 40)


# Sightings of faces nobody enrolled are deleted after this many days (--retention-unknown): they
# are biometric data of people who never agreed to be enrolled.
UNKNOWN_RETENTION_DAYS = 30.0
AWAY_AFTER = 30.0  # seconds unseen after which someone present has left (notify)
UNKNOWN_EVERY = 300.0  # seconds a stranger's group raises no new alert, from when last seen (notify)
