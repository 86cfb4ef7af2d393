"""Shared by the benchmark scripts: where the data set is, what machine this is."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """FACECAM_TEST_DATA, else ../shared/data beside the repository."""
    path = Path(os.environ.get("FACECAM_TEST_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        raise SystemExit(f"data set not found at {path}: set FACECAM_TEST_DATA")
    return path


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return (f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), Python {platform.python_version()}")


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def median_ms(fn, repeats: int) -> float:
    """Median wall time of fn() in ms over `repeats` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def lin_registry(work: Path) -> Path:
    """A registry in `work` with Lin-Manuel Miranda enrolled from face_recognition's example photo
    (the person of the Hamilton clip)."""
    import sys

    person = work / "people" / "Lin-Manuel Miranda"
    person.mkdir(parents=True)
    (person / "lin.png").symlink_to(data_dir() / "face_recognition_examples/examples/lin-manuel-miranda.png")
    subprocess.run([sys.executable, "-m", "facecam", "register", "--from-dir", str(work / "people"), "--by-folder",
                    "--registry", str(work / "registry")], check=True, capture_output=True)
    return work / "registry"
