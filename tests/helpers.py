"""What the tests share: running facecam (in this process, with the models loaded once, or as a
real process where exit codes, signals and windows are what is tested), the real window under
Xvfb, a `facecam serve` process, Chromium, the installed tools a test needs, and waiting on a
condition instead of sleeping."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "tests" / "data" / "samples"
EXAMPLES = Path("face_recognition_examples/examples")  # in the shared data set
CLIP = EXAMPLES / "short_hamilton_clip.mp4"
LIN, ALEX = "Lin-Manuel Miranda", "Alex Lacamoire"
TOKEN = "test-token-5b1d"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


# --- running facecam

@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def facecam(*args, env: dict | None = None, cwd=None, input: str = "", stdout=None, stderr=None) -> Result:
    """`facecam ARGS` run in this process, as its console entry point runs it (stdout, stderr,
    exit code), with `env` added to the environment and `cwd` as the working directory for the
    run. Networks are built once per process (models.base.shared_network), so a run costs what
    the command does, not an interpreter, torch and a model load. stdout, stderr: streams that
    take what it writes as it writes it (else it is collected and returned)."""
    from facecam.cli import main

    out, err = stdout or io.StringIO(), stderr or io.StringIO()
    saved, here, stdin = dict(os.environ), os.getcwd(), sys.stdin
    os.environ.update({key: str(value) for key, value in (env or {}).items()})
    time.tzset()  # TZ is read by the C library only when told
    try:
        if cwd is not None:
            os.chdir(cwd)
        sys.stdin = io.StringIO(input)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([str(a) for a in args])
                code = 0
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    finally:
        sys.stdin = stdin
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)
        time.tzset()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.default_int_handler)
    return Result(code, "" if stdout else out.getvalue(), "" if stderr else err.getvalue())


def facecam_process(*args, env: dict | None = None, cwd=None, timeout: float = 600, **popen) -> subprocess.CompletedProcess:
    """`facecam ARGS` as a real process (python -m facecam), for what only a process shows: exit
    codes and messages from the console entry point, signals, start-up time, two processes at once."""
    return subprocess.run([sys.executable, "-m", "facecam", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=timeout, **popen)


def assert_one_line_error(result, code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and text in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def events_and_summary(stdout: str):
    """recognize --json: (the recognition events, the summary); the sightings and notifications
    it also prints are other tests' concern."""
    import json

    lines = [json.loads(line) for line in stdout.splitlines()]
    return [line for line in lines[:-1] if "sighting" not in line and "notification" not in line], lines[-1]["summary"]


def enrol_people(data: Path, root: Path) -> Path:
    """root/registry with the two people face_recognition's Hamilton example knows, from its photos."""
    for name, photo in ((LIN, "lin-manuel-miranda.png"), (ALEX, "alex-lacamoire.png")):
        (root / "people" / name).mkdir(parents=True)
        (root / "people" / name / photo).symlink_to(data / EXAMPLES / photo)
    result = facecam("register", "--from-dir", root / "people", "--by-folder", "--registry", root / "registry")
    assert result.returncode == 0, result.stderr
    return root / "registry"


def copy_registry(registry: Path, into: Path, *, history: bool = True) -> Path:
    """A copy of a registry folder (with its history.sqlite unless told otherwise) for a test to change."""
    shutil.copytree(registry, into, ignore=None if history else shutil.ignore_patterns("history.sqlite*"))
    return into


def wait_until(condition, timeout: float = 30.0, what: str = "the condition", every: float = 0.1):
    """condition()'s first truthy value, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout:g} s")
        time.sleep(every)


# --- user-supplied embedders: state dicts in the published layouts, with made-up weights

STAGES = [(64, 3), (128, 4), (256, 14), (512, 3)]


def _bn(shapes, name, c):
    for field in ("weight", "bias", "running_mean", "running_var"):
        shapes[f"{name}.{field}"] = (c,)
    shapes[f"{name}.num_batches_tracked"] = ()


def ir50_layout() -> dict:
    """face.evoLVe backbone/model_irse.py, Backbone([112, 112], 50, 'ir')."""
    shapes = {"input_layer.0.weight": (64, 3, 3, 3), "input_layer.2.weight": (64,)}
    _bn(shapes, "input_layer.1", 64)
    i, cin = 0, 64
    for depth, units in STAGES:
        for u in range(units):
            inp = cin if u == 0 else depth
            if inp != depth:  # otherwise the shortcut is a parameter-free MaxPool2d(1, stride)
                shapes[f"body.{i}.shortcut_layer.0.weight"] = (depth, inp, 1, 1)
                _bn(shapes, f"body.{i}.shortcut_layer.1", depth)
            _bn(shapes, f"body.{i}.res_layer.0", inp)
            shapes[f"body.{i}.res_layer.1.weight"] = (depth, inp, 3, 3)
            shapes[f"body.{i}.res_layer.2.weight"] = (depth,)
            shapes[f"body.{i}.res_layer.3.weight"] = (depth, depth, 3, 3)
            _bn(shapes, f"body.{i}.res_layer.4", depth)
            i += 1
        cin = depth
    _bn(shapes, "output_layer.0", 512)
    shapes["output_layer.3.weight"], shapes["output_layer.3.bias"] = (512, 512 * 7 * 7), (512,)
    _bn(shapes, "output_layer.4", 512)
    return shapes


def iresnet50_layout() -> dict:
    """insightface recognition/arcface_torch/backbones/iresnet.py, iresnet50()."""
    shapes = {"conv1.weight": (64, 3, 3, 3), "prelu.weight": (64,)}
    _bn(shapes, "bn1", 64)
    cin = 64
    for layer, (planes, blocks) in enumerate(STAGES, start=1):
        for b in range(blocks):
            p, inp = f"layer{layer}.{b}", cin if b == 0 else planes
            _bn(shapes, f"{p}.bn1", inp)
            shapes[f"{p}.conv1.weight"] = (planes, inp, 3, 3)
            _bn(shapes, f"{p}.bn2", planes)
            shapes[f"{p}.prelu.weight"] = (planes,)
            shapes[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            _bn(shapes, f"{p}.bn3", planes)
            if b == 0:  # every stage starts with stride 2
                shapes[f"{p}.downsample.0.weight"] = (planes, inp, 1, 1)
                _bn(shapes, f"{p}.downsample.1", planes)
        cin = planes
    _bn(shapes, "bn2", 512)
    shapes["fc.weight"], shapes["fc.bias"] = (512, 512 * 7 * 7), (512,)
    _bn(shapes, "features", 512)
    return shapes


def random_state(shapes: dict, seed: int = 0) -> dict:
    """Made-up weights of these shapes (batch-norm variances positive)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        else:
            state[key] = torch.randn(shape, generator=g) * 0.05
    return state


# --- real parts the tests need installed

def missing(message: str):
    """A real service the tests need is not installed: a failure under CI, a skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def need_tools(tools: dict[str, str]) -> None:
    """{program: the Debian package that has it}: fail (CI) or skip unless all are installed."""
    absent = {tool: package for tool, package in tools.items() if shutil.which(tool) is None}
    if absent:
        missing(f"{' and '.join(absent)} not installed (apt-get install {' '.join(absent.values())}; "
                ".ci/setup test does it)")


# --- the real window, under Xvfb

def xdotool(display, *args):
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, env={**os.environ, "DISPLAY": display})


def wait_for_window(display, title, proc, timeout=120, old=None):
    """The id of the window of that title (another than `old`: the review follows the preview)."""
    def found():
        assert proc.poll() is None, proc.communicate()
        windows = [w for w in xdotool(display, "search", "--name", title).stdout.split() if w != old]
        return windows[0] if windows else None

    window = wait_until(found, timeout, f"a window named {title!r}", every=0.2)
    if old is not None:
        time.sleep(0.5)  # let it paint
    return window


def screenshot(display, window, path) -> np.ndarray:
    """The window's pixels (RGB, as on the screen), also written to `path` as PNG."""
    import mss
    import mss.tools

    geometry = dict(line.strip().split(": ", 1) for line in xdotool(display, "getwindowgeometry", window).stdout.splitlines()[1:])
    x, y = map(int, geometry["Position"].split()[0].split(","))
    width, height = map(int, geometry["Geometry"].split("x"))
    os.environ["DISPLAY"] = display
    with mss.MSS() as screen:
        shot = screen.grab({"left": x, "top": y, "width": width, "height": height})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    mss.tools.to_png(shot.rgb, shot.size, output=str(path))
    return np.frombuffer(shot.rgb, np.uint8).reshape(height, width, 3)


def close_window(display, window):
    """Ask the window to close the way a window manager's close button does (WM_DELETE_WINDOW)."""
    import ctypes

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                    ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]

    class Event(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    x11 = ctypes.cdll.LoadLibrary("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    connection = x11.XOpenDisplay(display.encode())
    event = Event()
    event.xclient.type, event.xclient.window, event.xclient.format = 33, int(window), 32  # 33: ClientMessage
    event.xclient.message_type = x11.XInternAtom(connection, b"WM_PROTOCOLS", 0)
    event.xclient.data[0] = x11.XInternAtom(connection, b"WM_DELETE_WINDOW", 0)
    x11.XSendEvent(connection, int(window), 0, 0, ctypes.byref(event))
    x11.XFlush(connection)
    x11.XCloseDisplay(connection)


def start_in_window(display, tmp_path, *args, ignore_sigint=False):
    """facecam ARGS as a process on the display; (the process, its stdout file, its stderr file)."""
    env = {**os.environ, "DISPLAY": display, "COLUMNS": "200"}
    out, err = open(tmp_path / "stdout", "w+"), open(tmp_path / "stderr", "w+")
    preexec = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None
    proc = subprocess.Popen([sys.executable, "-m", "facecam", *map(str, args)], stdout=out, stderr=err, env=env,
                            preexec_fn=preexec)
    return proc, out, err


def finish(proc, out, err):
    code = proc.wait(timeout=300)
    out.seek(0), err.seek(0)
    return code, out.read(), err.read()


# --- facecam serve, and a browser

def start_server(tmp_path, *args, token=TOKEN, port=None):
    """`facecam serve ARGS` as a process on a free port (or `port`), up once /health answers:
    (the process, its URL)."""
    import httpx

    from services import free_port

    port = port or free_port()
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("FACECAM_TOKEN", None)
    if token:
        env["FACECAM_TOKEN"] = token
    log = open(tmp_path / f"server-{port}.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "facecam", "serve", "--port", str(port), *map(str, args)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError(f"server exited {proc.returncode}: {log.read()}")
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 120, "the server answering /health", every=0.2)
    except AssertionError:
        proc.kill()
        raise
    return proc, url


def stop(proc):
    proc.terminate()
    proc.wait(timeout=30)


def chromium(y4m: Path | None = None, *, camera_allowed: bool = True, size=(1280, 900)):
    """services.chromium, failing (CI) or skipping where Chromium is not installed."""
    import services

    need_tools({"chromium": "chromium", "chromedriver": "chromium-driver"})
    return services.chromium(y4m, camera_allowed=camera_allowed, size=size)


def camera_file(data, path: Path) -> Path:
    import services

    return services.camera_file(data / CLIP, path)
