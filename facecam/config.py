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
    """Threads for torch on the CPU (FACECAM_THREADS, else every core this process may use)."""
    env = os.environ.get("FACECAM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
