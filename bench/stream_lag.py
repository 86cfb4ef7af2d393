"""Capture-to-result latency on a live 1080p stream: facecam's grabber (the newest frame) next to
reading frame by frame inside the processing loop (what `recognize` did before), same run.

The stream: the shared 1080p street video (video/video.mp4, 105 frames) with its frame number
drawn into each frame as 7 black or white squares, looped for ever at 25 frames/s as JPEG over
RTSP by GStreamer's RTSP server (tests/rtsp_server.py; JPEG rather than H.264 because encoding
1080p H.264 in real time would take the CPU the recognizer is measured on). Each frame's send time is the first
frame's arrival plus its number / 25, so the latency is measured from the moment the frame was
due, to the moment its recognition (detect, track, embed, match) was done; the constant part
(encoding, network) is not in it, the part that grows is.

    .venv/bin/python bench/stream_lag.py [SECONDS per mode, default 300]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import data_dir, git_commit, machine  # noqa: E402
from services import RtspServer  # noqa: E402

FPS = 25
BITS, SQUARE = 7, 60  # the frame number, mod 105, as 7 squares of 60 px along the top


def numbered_frames(folder: Path) -> int:
    import cv2

    capture = cv2.VideoCapture(str(data_dir() / "video" / "video.mp4"))
    count = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        for bit in range(BITS):
            value = 255 if count >> bit & 1 else 0
            image[20:20 + SQUARE, 20 + bit * (SQUARE + 10):20 + bit * (SQUARE + 10) + SQUARE] = value
        cv2.imwrite(str(folder / f"{count:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        count += 1
    return count


def number(image: np.ndarray) -> int:
    out = 0
    for bit in range(BITS):
        x = 20 + bit * (SQUARE + 10) + SQUARE // 2
        if image[20 + SQUARE // 2 - 10:20 + SQUARE // 2 + 10, x - 10:x + 10].mean() > 128:
            out |= 1 << bit
    return out


class Clock:
    """Frame numbers unwrapped across the loops of the clip. A frame's lag: when its recognition
    was done, minus when it was sent (the server sends frame n at t0 + n / 25), less the smallest
    such difference of the run (the constant part: encoding, network, the first frame's wait)."""

    def __init__(self, period: int):
        self.period, self.loops, self.last, self.start = period, 0, None, None
        self.done_at: list[tuple[float, int]] = []  # (time done, frame number)

    def done(self, image: np.ndarray, now: float) -> None:
        n = number(image)
        if self.last is not None and n < self.last - self.period // 2:
            self.loops += 1
        self.last = n
        self.start = self.start if self.start is not None else now
        self.done_at.append((now, self.loops * self.period + n))

    def samples(self) -> list[tuple[float, float]]:
        """(seconds into the run, lag in seconds) per processed frame."""
        offsets = [now - frame / FPS for now, frame in self.done_at]
        least = min(offsets)
        return [(now - self.start, offset - least) for (now, _), offset in zip(self.done_at, offsets)]


def run(mode: str, url: str, seconds: float, period: int) -> dict:
    import cv2

    from facecam.models import load_embedder, retinaface
    from facecam.pipeline import Recognizer
    from facecam.registry import Registry
    from facecam.sources import FrameSource

    detector, embedder = retinaface.load(device="cpu"), load_embedder(None, device="cpu")
    recognizer = Recognizer(detector, embedder, Registry.open(tempfile.mkdtemp(), model=embedder.model_info, create=True))
    clock = Clock(period)
    end = time.monotonic() + seconds
    processed = dropped = 0
    if mode == "grabber":
        source = FrameSource(source=url, reconnect=None)
        frames = iter(source)
        while time.monotonic() < end:
            frame = next(frames)
            if frame is None:
                continue
            recognizer.process(frame.image, frame.index)
            clock.done(frame.image, time.monotonic())
            processed += 1
        frames.close()
        dropped = source.dropped
        source.close()
    else:  # read frame by frame in the processing loop
        capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
        index = 0
        while time.monotonic() < end:
            ok, image = capture.read()
            if not ok:
                continue
            recognizer.process(image, index)
            clock.done(image, time.monotonic())
            processed, index = processed + 1, index + 1
        capture.release()
    samples = clock.samples()
    lat = np.array([latency for _, latency in samples]) * 1000
    first = [latency * 1000 for at, latency in samples if at < 60]
    last = [latency * 1000 for at, latency in samples if at >= samples[-1][0] - 60]
    return {"mode": mode, "processed": processed, "dropped": dropped, "fps": processed / seconds,
            "median": float(np.median(lat)), "p95": float(np.percentile(lat, 95)),
            "first": statistics.median(first), "last": statistics.median(last), "max": float(lat.max())}


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 300.0
    folder = Path(tempfile.mkdtemp())
    period = numbered_frames(folder)
    print(f"Machine: {machine()}; commit {git_commit()}. Stream: video/video.mp4 (1920x1080), {period} frames "
          f"looped at {FPS} frames/s over RTSP (JPEG); {seconds:g} s per mode.\n")
    print("| reading | frames processed | frames/s | dropped | latency median | p95 | max | median, first minute | median, last minute |")
    print("|---|---|---|---|---|---|---|---|---|")
    for mode in ("grabber", "frame by frame"):
        server = RtspServer(folder, fps=f"{FPS}/1", codec="jpeg")
        try:
            r = run(mode, server.url, seconds, period)
        finally:
            server.stop()
        print(f"| {r['mode']} | {r['processed']} | {r['fps']:.1f} | {r['dropped']} | {r['median']:.0f} ms | "
              f"{r['p95']:.0f} ms | {r['max']:.0f} ms | {r['first']:.0f} ms | {r['last']:.0f} ms |", flush=True)


if __name__ == "__main__":
    main()
