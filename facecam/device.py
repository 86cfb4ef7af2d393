"""Choosing the compute device once, from `--device auto|cpu|cuda[:N]`."""

from __future__ import annotations

import re
import sys

from .config import cpu_threads
from .errors import DeviceError, Remedy, UsageError
from .words import counted

_threads_set = False


def resolve_device(spec: str = "auto"):
    """Return the torch.device for a `--device` value; also sets torch's CPU threads once.

    "auto" picks the first CUDA device when torch sees one, else the CPU.
    """
    import torch

    global _threads_set
    if not _threads_set:
        torch.set_num_threads(cpu_threads())
        torch.set_flush_denormal(True)  # tiny activations otherwise slow CPU convolutions
        _keep_freed_memory()
        _threads_set = True

    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    m = re.fullmatch(r"cuda(?::(\d+))?", spec)
    if not m:
        raise UsageError(f"unknown device {spec!r}: use auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise DeviceError(f"device {spec} requested but torch sees no CUDA device", Remedy("runs on the processor", "device", "cpu"))
    index = int(m.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise DeviceError(
            f"device {spec} requested but torch sees {counted(torch.cuda.device_count(), 'CUDA device')}"
        )
    return torch.device("cuda", index)


def describe(device) -> str:
    """A short human name for the device, e.g. 'cpu (2 threads)' or 'cuda:0 (NVIDIA ...)'."""
    import torch

    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def _keep_freed_memory() -> None:
    """Let glibc reuse freed feature maps instead of returning them to the OS after every frame.

    Each forward pass allocates tens of MB of activations; by default glibc maps and unmaps them
    each time, and the page faults cost 12-22% of a 720p/1080p detection. Linux/glibc only.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(name)
        limit = 512 << 20
        libc.mallopt(-3, limit)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, limit)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass
