"""Where frames come from: image files (read by content, not by extension), cameras, videos, streams."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import DeviceError, InputError, Remedy
from .grabber import Frame, Grabber
from .images import list_images, read_image
from .validate import camera_index, hide_password, source_path


@dataclass(frozen=True)
class CameraSettings:
    """What to ask a local camera for; None leaves the driver's choice. The camera may give
    something else: FrameSource.accepted says what it took."""

    size: tuple[int, int] | None = None  # width, height
    fps: float | None = None
    fourcc: str | None = None  # e.g. MJPG: many USB webcams give 30 fps at 720p only compressed


class FrameSource:
    """Frames from a camera (an index), a video file, a stream URL, or a folder of images.

    Opening fails with a one-line error naming what was tried. A live source (camera, stream) is
    read by a grabber thread (grabber.py) that keeps the newest frame, counts the frames the loop
    did not take (`dropped`), and reopens the source when it stops delivering (`reconnect`
    attempts, None for ever); iterating yields None while there is no new frame. A source lost for
    good ends the iteration with `stopped` set and `failure` saying why; a file or folder just ends.
    realtime: read a file at its frame rate and drop frames like a live source.
    rtsp_transport: "tcp" (the default: UDP loses packets on Wi-Fi) or "udp".
    name: what to call it (messages, events, the history) instead of its path or URL.
    """

    STREAM_TIMEOUT = 10.0  # seconds a stream may take to open, or to deliver the next packet

    def __init__(self, camera: int = 0, source: str | Path | None = None, *, realtime: bool = False,
                 reconnect: int | None = 3, camera_settings: CameraSettings | None = None,
                 rtsp_transport: str = "tcp", on_status=None, name: str | None = None):
        self.stopped = False
        self.failure: str | None = None
        self.unreadable: list[str] = []  # a folder's images that could not be read (skipped)
        self.realtime, self.reconnect, self.on_status = realtime, reconnect, on_status
        self.camera_settings, self.rtsp_transport = camera_settings or CameraSettings(), rtsp_transport
        self.accepted: dict | None = None  # a camera: the size, fps and fourcc it took
        self._images: list[Path] | None = None
        self._grabber: Grabber | None = None
        self._capture = None
        if source is None:
            self.name, self.live = f"camera {camera_index(camera)}", True
            self._reopen = lambda: self._open_camera(camera)
        elif "://" in str(source):
            self.name, self.live = hide_password(str(source)), True  # names go into logs and the history
            self._reopen = lambda: self._open_stream(str(source))
        else:
            self.name, self.live = str(source), False
            self._reopen = lambda: self._open_path(Path(source))
        self._capture = self._reopen()
        if name is not None:
            self.name = name
        fps = self._capture.get(_cv2().CAP_PROP_FPS) if self._capture is not None else 0.0
        self.fps = fps if 1.0 <= fps <= 240.0 else None  # cameras and streams may report nonsense
        # frames in a file or images in a folder (a progress bar's total); None for a live source
        self.length = (len(self._images) if self._images is not None else None if self.live
                       else int(self._capture.get(_cv2().CAP_PROP_FRAME_COUNT)) or None)

    @property
    def dropped(self) -> int:
        return self._grabber.dropped if self._grabber is not None else 0

    @property
    def reconnects(self) -> int:
        return self._grabber.reconnects if self._grabber is not None else 0

    @property
    def decoded(self) -> int:
        """Frames of a live source converted to a picture (the others were only grabbed)."""
        return self._grabber.decoded if self._grabber is not None else 0

    def pace(self, stride: int) -> None:
        """Look at one frame in `stride` of a live source from now on (the loop watching a still
        picture needs fewer); every frame of a file read at full speed is looked at anyway."""
        if self._grabber is not None:
            self._grabber.stride = stride

    @property
    def state(self) -> str | None:
        """What is wrong right now ("reconnecting (attempt 2 of 3)"), or None."""
        return self._grabber.state if self._grabber is not None else None

    def _open_camera(self, camera: int):
        cv2 = _cv2()
        capture = cv2.VideoCapture(camera)
        if not capture.isOpened():
            found = sorted(str(p) for p in Path("/dev").glob("video*"))
            raise DeviceError(f"camera {camera} could not be opened (video devices on this machine: "
                              f"{', '.join(found) or 'none'})", Remedy("picks another", "camera", "N"),
                              Remedy("reads a video or stream instead", "source", "FILE"))
        wanted = self.camera_settings
        if wanted.fourcc:  # before the size: the size a camera offers depends on the format
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*wanted.fourcc))
        if wanted.size:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, wanted.size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, wanted.size[1])
        if wanted.fps:
            capture.set(cv2.CAP_PROP_FPS, wanted.fps)
        code = int(capture.get(cv2.CAP_PROP_FOURCC))
        self.accepted = {"size": (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))),
                         "fps": round(capture.get(cv2.CAP_PROP_FPS), 2),
                         "fourcc": "".join(chr((code >> 8 * k) & 0xFF) for k in range(4)).strip("\0 ") or None}
        return capture

    def _open_stream(self, url: str):
        import time

        cv2 = _cv2()
        ms = int(self.STREAM_TIMEOUT * 1000)
        start = time.monotonic()
        with _FFMPEG_OPTIONS:  # OpenCV reads its FFmpeg options from the environment, at each open
            previous = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")
            if url.lower().startswith(("rtsp://", "rtsps://")):
                os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"rtsp_transport;{self.rtsp_transport}"
            try:
                capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG,
                                           [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
            finally:
                if previous is None:
                    os.environ.pop("OPENCV_FFMPEG_CAPTURE_OPTIONS", None)
                else:
                    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = previous
        if not capture.isOpened():
            waited = time.monotonic() - start
            why = (f"no answer within {self.STREAM_TIMEOUT:g} s" if waited >= self.STREAM_TIMEOUT - 0.5
                   else "refused, not found, wrong credentials, or not a video stream")
            raise InputError(f"{hide_password(url)}: the stream could not be opened ({why})")
        return JpegPackets.of(capture)

    def _open_path(self, path: Path):
        source_path(path)
        if path.is_dir():
            self._images = list_images([path])
            if not self._images:
                raise InputError(f"{path}: no images in this folder")
            return None
        cv2 = _cv2()
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened() or capture.get(cv2.CAP_PROP_FRAME_COUNT) <= 0:
            capture.release()
            raise InputError(f"{path}: not a readable video")
        return capture

    def __iter__(self):
        if self._images is not None:
            yield from self._folder_frames()
            return
        if self.live or self.realtime:
            yield from self.grabber().frames()
            self.stopped, self.failure = self._grabber.stopped, self._grabber.failure
            return
        index = 0
        while self._capture is not None:
            ok, image = self._capture.read()
            if not ok or image is None:
                if index == 0:
                    raise InputError(f"{self.name}: no frame could be decoded")
                return
            yield Frame(index, index / self.fps if self.fps else float(index), image)
            index += 1

    def grabber(self, wake=None) -> Grabber:
        """A grabber over this source (live, or a file read at its frame rate), which takes the
        capture over. wake: a Condition shared with other grabbers (Sources)."""
        if self._capture is None:  # iterated again (enrolment's retake): the last grabber closed it
            self._capture = self._reopen()
        self._grabber = Grabber(self._capture, self._reopen, name=self.name, live=self.live, fps=self.fps,
                                reconnect=self.reconnect, on_status=self.on_status, wake=wake)
        self._capture = None
        return self._grabber

    @property
    def photos(self) -> bool:
        """Whether the frames are the photos of a folder (unrelated to each other)."""
        return self._images is not None

    def _folder_frames(self):
        index = 0
        for path in self._images:
            try:
                image = read_image(path)
            except InputError as err:  # one bad photo does not end the folder
                self.unreadable.append(str(err))
                continue
            yield Frame(index, float(index), image)
            index += 1

    def close(self) -> None:
        if self._grabber is not None:
            self._grabber.stop()
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Sources:
    """Several live sources (files are read at their frame rate) read at once, one grabber each;
    iterating yields a list of the newest frames of those that have a new one (Frame.source:
    which one), to be processed together, None while none has one, and ends when every source
    has ended. A source lost for good does not stop the others:
    `failures` lists them at the end (and `stopped` is set)."""

    def __init__(self, sources: list[FrameSource]):
        self.sources = sources
        self.name = ", ".join(s.name for s in sources)
        self.live, self.photos, self.fps = True, False, None
        self.stopped = False
        self.failures: list[str] = []

    @property
    def state(self) -> str | None:
        states = [f"{s.name}: {s.state}" for s in self.sources if s.state]
        return "; ".join(states) or None

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self.sources)

    @property
    def reconnects(self) -> int:
        return sum(s.reconnects for s in self.sources)

    def __iter__(self):
        wake = threading.Condition()
        grabbers = [s.grabber(wake) for s in self.sources]
        try:
            for g in grabbers:
                g.start()
            while not all(g.finished for g in grabbers):
                frames = []
                for k, g in enumerate(grabbers):
                    frame = g.poll()
                    if frame is not None:
                        frame.source = k
                        frames.append(frame)
                if frames:
                    yield frames
                else:
                    with wake:
                        wake.wait(timeout=Grabber.IDLE)
                    if not any(g.has_new() for g in grabbers):
                        yield None
        finally:
            for g in grabbers:
                g.stop()
        self.failures = [g.failure for g in grabbers if g.stopped]
        self.stopped = bool(self.failures)

    def close(self) -> None:
        for s in self.sources:
            s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_FFMPEG_OPTIONS = threading.Lock()


class JpegPackets:
    """A stream of JPEG pictures (MJPEG over HTTP, JPEG over RTSP) read as its packets: grab()
    only receives one, and retrieve() decodes it, so the frames the loop never takes are never
    decoded (FFmpeg decodes in grab(); each JPEG stands alone, unlike H.264's frames)."""

    def __init__(self, capture):
        self.capture = capture

    @classmethod
    def of(cls, capture):
        """The capture read as packets when its stream is MJPEG, else the capture itself."""
        cv2 = _cv2()
        code = int(capture.get(cv2.CAP_PROP_FOURCC))
        fourcc = "".join(chr((code >> 8 * k) & 0xFF) for k in range(4))
        if fourcc == "MJPG" and capture.set(cv2.CAP_PROP_FORMAT, -1):
            return cls(capture)
        return capture

    def grab(self) -> bool:
        return self.capture.grab()

    def retrieve(self):
        ok, packet = self.capture.retrieve()
        image = _cv2().imdecode(packet, _cv2().IMREAD_COLOR) if ok and packet is not None and packet.size else None
        return image is not None, image

    def read(self):
        return self.retrieve() if self.grab() else (False, None)

    def get(self, prop):
        return self.capture.get(prop)

    def isOpened(self) -> bool:  # noqa: N802 (cv2.VideoCapture's name)
        return self.capture.isOpened()

    def release(self) -> None:
        self.capture.release()


def _cv2():
    import cv2

    return cv2
