"""Live sources over real connections: the Hamilton clip streamed by a real RTSP server
(GStreamer's) and over HTTP MJPEG from `facecam serve`; the newest frame, not the oldest; a
server killed and started again; one that never comes back; bad URLs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from helpers import AUTH, CLIP, LIN, assert_one_line_error, facecam, missing, start_server, stop, wait_until
from services import RtspServer, video_frames


@pytest.fixture(scope="module")
def clip_frames(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip-frames")
    assert video_frames(data / CLIP, folder) == 275
    return folder


def need_rtsp() -> None:
    if not RtspServer.installed():
        missing("GStreamer's RTSP server is not installed (apt-get install gir1.2-gst-rtsp-server-1.0 python3-gi "
                 "gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly; .ci/setup test does it)")


@pytest.fixture
def rtsp(clip_frames):
    need_rtsp()
    server = RtspServer(clip_frames)
    yield server
    server.stop()


class Run:
    """`facecam recognize --headless --json --no-history ARGS` going on while the test acts: in a
    thread of this process (its models loaded once), or with process=True as a process of its own,
    which a signal can reach. Its JSON lines and its stderr are collected as they come."""

    def __init__(self, *args, process: bool = False):
        args = ["recognize", "--headless", "--json", "--no-history", *map(str, args)]
        self.lines: list[dict] = []
        self.stderr = ""
        self.code = None
        if process:
            self.process = subprocess.Popen([sys.executable, "-m", "facecam", *args], stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True)
            readers = [threading.Thread(target=self._read, args=(self.process.stdout, self._line), daemon=True),
                       threading.Thread(target=self._read, args=(self.process.stderr, self._error), daemon=True)]
        else:
            self.process = None
            readers = [threading.Thread(target=self._in_this_process, args=(args,), daemon=True)]
        self._threads = readers
        for thread in readers:
            thread.start()

    def _line(self, text: str) -> None:
        self.lines.append(json.loads(text))

    def _error(self, text: str) -> None:
        self.stderr += text

    @staticmethod
    def _read(stream, take):
        for line in stream:
            take(line)

    def _in_this_process(self, args):
        run = self

        class Lines(io.TextIOBase):
            def __init__(self, take):
                self.take, self.partial = take, ""

            def write(self, text):
                *complete, self.partial = (self.partial + text).split("\n")
                for line in complete:
                    self.take(line + "\n")
                return len(text)

        self.code = facecam(*args, stdout=Lines(run._line), stderr=Lines(run._error)).returncode

    def running(self) -> bool:
        return self.process.poll() is None if self.process is not None else self._threads[0].is_alive()

    def wait_for(self, predicate, timeout=60.0):
        def found():
            lines = [line for line in list(self.lines) if predicate(line)]
            assert lines or self.running(), f"ended without it; stderr: {self.stderr[-2000:]}"
            return lines[0] if lines else None

        return wait_until(found, timeout, f"a line; stderr: {self.stderr[-2000:]}", every=0.05)

    def finish(self, timeout=60.0):
        if self.process is not None:
            self.process.wait(timeout=timeout)
            self.code = self.process.returncode
        for thread in self._threads:
            thread.join(timeout)
        return self.code, self.lines[-1].get("summary") if self.lines else None


def named(line) -> bool:
    return line.get("name") == LIN


def test_recognize_over_rtsp_names_him_and_only_him(rtsp, people_registry):
    run = Run("--source", rtsp.url, "--registry", people_registry, "--max-frames", 150)
    code, summary = run.finish()
    assert code == 0, run.stderr
    events = [line for line in run.lines if "frame" in line]
    assert {e["name"] for e in events} == {None, LIN}  # the first 150 frames: him on stage, then close up
    assert summary["frames"] == 150 and summary["ended"] == "ended" and summary["reconnects"] == 0
    assert summary["lag_ms"]["p95"] < 200  # frames are processed as they come, not queued


def test_a_restarted_server_is_reconnected_and_he_is_named_again(rtsp, people_registry):
    """The server is killed once Lin-Manuel Miranda was named, and started again 2 s later: the
    run says it is reconnecting, gets the stream back, and names him again (each connection starts
    the clip from its first frame, where he is on stage)."""
    run = Run("--source", rtsp.url, "--registry", people_registry, "--reconnect", "5", process=True)  # Ctrl-C reaches it
    first = run.wait_for(named)
    rtsp.stop()
    time.sleep(2)
    rtsp.start()
    again = run.wait_for(lambda line: named(line) and line["frame"] > first["frame"] and line["track_id"] != first["track_id"]
                         and "reconnected" in run.stderr, timeout=90)
    run.process.send_signal(2)  # Ctrl-C
    code, summary = run.finish()
    assert code == 130 and summary["reconnects"] == 1 and summary["ended"] == "aborted"
    assert "no frames for 3 s; reconnecting in 1 s (attempt 1 of 5)" in run.stderr
    assert again["frame"] > first["frame"]


def test_a_source_that_never_comes_back_ends_with_one_error(rtsp, people_registry):
    run = Run("--source", rtsp.url, "--registry", people_registry, "--reconnect", "2")
    run.wait_for(named)
    rtsp.stop()
    started = time.monotonic()
    code, summary = run.finish(timeout=90)
    assert code == 1 and summary["ended"] == "stopped"
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"127.0.0.1:{rtsp.port}/clip: lost, and not back after 2 attempts" in errors[0], run.stderr
    assert "the stream could not be opened (refused" in errors[0]
    assert time.monotonic() - started < 30  # 3 s without frames, then 1 s and 2 s between the attempts


def test_a_slow_consumer_keeps_its_lag_bounded(clip_frames, people_registry, tmp_path):
    """The clip at 4x its frame rate (120 frames/s, faster than facecam processes it on 2 cores):
    the grabber drops what the loop cannot take, the lag stays bounded and does not grow."""
    need_rtsp()
    server = RtspServer(clip_frames, fps="120/1")
    try:
        run = Run("--source", server.url, "--registry", people_registry, "--max-frames", 200)
        code, summary = run.finish(timeout=120)
    finally:
        server.stop()
    assert code == 0, run.stderr
    assert summary["dropped"] > summary["frames"] / 2  # processing at well under 60 frames/s
    assert summary["lag_ms"]["p95"] < 150 and summary["lag_ms"]["max"] < 500


@pytest.mark.parametrize("codec", ["jpeg-shared", "h264"])
def test_only_the_frames_the_loop_takes_are_converted(clip_frames, codec):
    """A loop taking a frame every 60 ms from a 30 frames/s stream: every frame is grabbed, but
    only about the ones taken are converted to pictures (JPEG over RTSP: read as packets and
    decoded then; H.264: decoded as they come, as each depends on the one before, and converted
    then), each the clip's own picture."""
    from facecam.sources import FrameSource, JpegPackets

    need_rtsp()
    server = RtspServer(clip_frames, fps="30/1", codec=codec)
    try:
        with FrameSource(source=server.url) as source:
            taken, packets = [], []
            for frame in source:
                if frame is not None:
                    taken.append(frame.image.shape)
                    packets.append(isinstance(source._grabber._capture, JpegPackets))
                    time.sleep(0.06)
                if len(taken) == 40:
                    break
            grabber = source._grabber
            assert packets == [codec == "jpeg-shared"] * 40
            grabbed = grabber.dropped + len(taken)
            assert taken == [(360, 640, 3)] * 40
            assert grabbed > 70 and len(taken) <= grabber.decoded <= len(taken) + 12
    finally:
        server.stop()


def test_a_file_in_real_time_drops_what_it_cannot_process(data, people_registry):
    """--realtime reads the 1080p street video (105 frames at 25 fps) at its own pace while every
    frame is detected at full size (--max-size 0, far slower than 25 frames/s): each frame is
    either processed or counted as dropped."""
    result = facecam("recognize", "--source", data / "video" / "video.mp4", "--realtime", "--max-size", "0",
                     "--registry", people_registry, "--headless", "--json", "--no-history")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    assert summary["frames"] + summary["dropped"] == 105 and summary["dropped"] > 0
    assert 105 / 25 - 0.5 < summary["seconds"] < 105 / 25 + 2


def test_serves_mjpeg_stream_is_a_source(data, people_registry, tmp_path):
    """facecam serve's own /stream (annotated MJPEG over HTTP) as the source of another recognize
    (a server without a token: with one, the stream shows faces and needs it)."""
    server, url = start_server(tmp_path, "--registry", people_registry, "--source", data / CLIP, "--no-history", "--loop",
                               token=None)
    import httpx

    try:
        # start watching as the served clip reaches his close-up (frames 82-210 of 275, replayed)
        wait_until(lambda: 85 <= httpx.get(f"{url}/health").json()["source"]["frames"] % 275 <= 120, 60,
                   "the served clip at his close-up", every=0.05)
        run = Run("--source", f"{url}/stream", "--registry", people_registry, "--max-frames", 60)
        code, summary = run.finish(timeout=120)
        health = httpx.get(f"{url}/health").json()
    finally:
        stop(server)
    assert code == 0, run.stderr
    assert LIN in {line.get("name") for line in run.lines}
    assert summary["frames"] == 60
    assert health["source"]["name"] == str(data / CLIP) and health["source"]["frames"] > 60
    assert health["source"]["state"] == "running"


def test_bad_stream_urls_are_one_line_errors(people_registry, tmp_path, clip_frames):
    from services import free_port

    port = free_port()
    started = time.monotonic()
    result = facecam("recognize", "--source", f"rtsp://127.0.0.1:{port}/clip", "--registry", people_registry, "--headless")
    assert_one_line_error(result, 1, f"rtsp://127.0.0.1:{port}/clip: the stream could not be opened (refused")
    assert time.monotonic() - started < 20
    need_rtsp()
    guarded = RtspServer(clip_frames, credentials="admin:right")
    try:
        wrong = guarded.url.replace("admin:right", "admin:n0t-th1s")
        result = facecam("recognize", "--source", wrong, "--registry", people_registry, "--headless", "--max-frames", 5)
        assert_one_line_error(result, 1, f"rtsp://admin:***@127.0.0.1:{guarded.port}/clip: the stream could not be opened")
        assert "n0t-th1s" not in result.stderr  # the password is never shown
        result = facecam("recognize", "--source", guarded.url, "--registry", people_registry, "--headless",
                         "--max-frames", 5, "--no-history")
        assert result.returncode == 0, result.stderr
    finally:
        guarded.stop()
    # a server that answers with garbage
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    garbage_port = listener.getsockname()[1]

    def answer():
        for _ in range(3):
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.sendall(np.random.default_rng(0).integers(0, 255, 4096, dtype=np.uint8).tobytes())
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        result = facecam("recognize", "--source", f"rtsp://127.0.0.1:{garbage_port}/x", "--registry", people_registry,
                         "--headless")
        assert_one_line_error(result, 1, "the stream could not be opened")
        result = facecam("recognize", "--source", f"http://127.0.0.1:{garbage_port}/x", "--registry", people_registry,
                         "--headless")
        assert_one_line_error(result, 1, "the stream could not be opened")
    finally:
        listener.close()
    for option, value, message in (("--reconnect", "often", "a number of attempts or 'forever'"),
                                   ("--camera-size", "big", "WIDTHxHEIGHT"), ("--fourcc", "MJPEG", "four letters")):
        assert_one_line_error(facecam("recognize", option, value, "--registry", people_registry, "--headless"), 2, message)


# --- the grabber, on a made-up capture


class FakeCapture:
    """Frames numbered in their first pixel, every 2 ms; after `fail_after` grabs only failures.
    `retrieved`: the numbers of the frames converted to a picture."""

    def __init__(self, fail_after=None, start=0):
        self.reads, self.fail_after, self.start, self.retrieved = 0, fail_after, start, []

    def grab(self):
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            time.sleep(0.01)
            return False
        time.sleep(0.002)
        return True

    def retrieve(self):
        self.retrieved.append(self.start + self.reads)
        return True, np.full((2, 2, 3), (self.start + self.reads) % 256, np.uint8)

    def release(self):
        pass


def test_the_grabber_hands_over_the_newest_frame_and_counts_the_rest():
    from facecam.grabber import Grabber

    capture = FakeCapture(fail_after=400)
    grabber = Grabber(capture, lambda: None, name="fake", live=True, fps=None, reconnect=0)
    taken = []
    for frame in grabber.frames():
        if frame is None:
            continue
        taken.append(frame)
        time.sleep(0.02)  # a loop ten times slower than the source
    assert grabber.stopped and "fake: lost, and not back after 0 attempts" in grabber.failure
    assert [f.index for f in taken] == list(range(len(taken)))
    assert grabber.dropped + len(taken) == 400  # every frame grabbed was either taken or counted as dropped
    assert taken[-1].image[0, 0, 0] == capture.retrieved[-1] % 256  # the newest picture was handed over
    assert all(b.captured > a.captured for a, b in zip(taken, taken[1:]))
    # only what the loop takes is converted: the last frame or two before it is ready, not all 400
    assert grabber.decoded == len(capture.retrieved) and len(taken) <= grabber.decoded <= 2.5 * len(taken) + 5


def test_the_grabber_retrieves_every_frame_for_a_loop_that_keeps_up_and_one_in_stride_for_a_resting_one():
    from facecam.grabber import Grabber

    capture = FakeCapture(fail_after=200)
    grabber = Grabber(capture, lambda: None, name="fake", live=True, fps=None, reconnect=0)
    taken = [f for f in grabber.frames() if f is not None]  # a loop faster than the source
    assert len(taken) == len(capture.retrieved) == grabber.decoded and grabber.dropped + len(taken) == 200
    assert len(taken) >= 190  # a frame missed only when a grab came while the loop was between two polls
    capture = FakeCapture(fail_after=200)
    grabber = Grabber(capture, lambda: None, name="fake", live=True, fps=None, reconnect=0)
    grabber.stride = 2  # a still picture: one frame in two is looked at
    taken = [f for f in grabber.frames() if f is not None]
    assert len(taken) == len(capture.retrieved) and 95 <= len(taken) <= 100
    assert all(b - a >= 2 for a, b in zip(capture.retrieved, capture.retrieved[1:]))


def test_the_grabber_reconnects_with_growing_pauses(monkeypatch):
    """Lost after 10 frames: two failed attempts, back at the third; lost again after 20 frames and
    not back in 3 attempts: given up. The pause doubles after each failure and starts over after
    a success."""
    from facecam.errors import InputError
    from facecam.grabber import Grabber

    monkeypatch.setattr(Grabber, "STALL_SECONDS", 0.2)
    monkeypatch.setattr(Grabber, "FIRST_PAUSE", 0.1)
    opened, said = [], []

    def reopen():
        opened.append(time.monotonic())
        if len(opened) != 3:
            raise InputError("fake: refused")
        return FakeCapture(fail_after=20, start=100)

    grabber = Grabber(FakeCapture(fail_after=10), reopen, name="fake", live=True, fps=None, reconnect=3,
                      on_status=said.append)
    frames = [f for f in grabber.frames() if f is not None]
    assert len(opened) == 6 and grabber.reconnects == 1 and grabber.stopped
    attempts = [f"fake: no frames for 0.2 s; reconnecting in {p} s (attempt {k} of 3)" for k, p in ((1, 0.1), (2, 0.2), (3, 0.4))]
    assert said == [*attempts, "fake: reconnected", *attempts]
    assert frames[-1].image[0, 0, 0] == 120 and [f.index for f in frames] == list(range(len(frames)))
    assert grabber.failure == "fake: lost, and not back after 3 attempts (fake: refused)"


# --- several sources in one process


def test_several_sources_in_one_process(rtsp, data, people_registry, tmp_path):
    """The clip over RTSP (named "stage") and the same clip as a file (named "file", read at its
    frame rate) in one recognize: one detector and embedder, a tracker per source, every event
    and sighting tagged with its source, Lin-Manuel Miranda named on both, the frames tiled side
    by side in the annotated video."""
    from facecam.history import History

    out = tmp_path / "tiled.mp4"
    target = tmp_path / "history.sqlite"
    run = Run("--source", f"stage={rtsp.url}", "--source", f"file={data / CLIP}", "--registry", people_registry,
              "--max-frames", 240, "--output", out)
    code, summary = run.finish(timeout=120)
    assert code == 0, run.stderr
    events = [line for line in run.lines if "frame" in line]
    assert {e["source"] for e in events} == {"stage", "file"}
    assert {e["source"] for e in events if e["name"] == LIN} == {"stage", "file"}
    assert [s["source"] for s in summary["sources"]] == ["stage", "file"]
    assert sum(s["frames"] for s in summary["sources"]) == summary["frames"] == 240
    assert all(s["frames"] > 60 for s in summary["sources"])  # both get their turn
    assert {p["source"] for p in summary["people"] if p["name"] == LIN} == {"stage", "file"}
    import cv2

    video = cv2.VideoCapture(str(out))
    assert (video.get(cv2.CAP_PROP_FRAME_WIDTH), video.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (1280, 360)
    assert video.get(cv2.CAP_PROP_FRAME_COUNT) == 240
    # and into the history, each sighting under its source's name
    result = facecam("recognize", "--source", f"a={data / CLIP}", "--source", f"b={data / CLIP}", "--registry",
                     people_registry, "--headless", "--history", target, "--max-frames", 300)
    assert result.returncode == 0, result.stderr
    history = History.open(target)
    assert {r["source"] for r in history.sightings()} == {"a", "b"}
    assert {r["source"] for r in history.sightings(name=LIN)} == {"a", "b"}
    history.close()
    assert_one_line_error(facecam("recognize", "--source", f"a={data / CLIP}", "--source", f"a={data / CLIP}",
                                  "--registry", people_registry, "--headless"), 2, "two sources have the same name")


def test_serve_streams_several_sources(data, people_registry, tmp_path, rtsp):
    import cv2
    import httpx

    server, url = start_server(tmp_path, "--registry", people_registry, "--no-history", "--source", f"stage={rtsp.url}",
                               "--source", data / CLIP)
    try:
        def running():
            health = httpx.get(f"{url}/health").json()
            return health if all(s["frames"] > 10 for s in health["sources"]) else None

        health = wait_until(running, 60, "10 frames from every source", every=0.5)
        assert [s["name"] for s in health["sources"]] == ["stage", str(data / CLIP)]
        assert health["source"]["name"] == "stage" and all(s["state"] == "running" for s in health["sources"])
        for path in ("/stream/stage", "/stream/1", "/stream"):
            with httpx.stream("GET", f"{url}{path}", headers=AUTH, timeout=60) as r:
                assert r.status_code == 200
                body = b""
                for chunk in r.iter_bytes():
                    body += chunk
                    if body.count(b"--frame") >= 2:
                        break
            jpeg = body.split(b"--frame")[1].split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
            assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (360, 640, 3)
        r = httpx.get(f"{url}/stream/door", headers=AUTH)
        assert r.status_code == 404 and "there are 'stage'" in r.json()["detail"]
    finally:
        stop(server)


def test_cameras_lists_what_opens():
    """This machine's cameras: on one without any (CI), the one-line answer; with some, one JSON
    line per device that opens, numbered as --camera takes them."""
    from pathlib import Path

    result = facecam("cameras", "--json")
    assert result.returncode == 0, result.stderr
    devices = sorted(Path("/dev").glob("video*"))
    if not devices:
        assert result.stdout == "" and "no cameras found" in result.stderr
    else:
        listed = [json.loads(line) for line in result.stdout.splitlines()]
        assert {c["device"] for c in listed} <= {str(d) for d in devices}
        assert all(c["device"] == f"/dev/video{c['index']}" for c in listed)
