"""The enrolment loop's frame rate, in a window (on a virtual display) and headless, next to
`recognize` on the same 640x480 source, and how long the guided enrolment takes to cover the
directions the shared sources hold.

    .ci/setup test && .venv/bin/python bench/enrol_speed.py     # needs Xvfb (installed by .ci/setup test)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine  # noqa: E402


def letterboxed(source: Path, out: Path, size=(640, 480), repeat: int = 2) -> Path:
    capture, frames = cv2.VideoCapture(str(source)), []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 25, size)
    for frame in frames * repeat:
        scaled = cv2.resize(frame, (size[0], size[0] * frame.shape[0] // frame.shape[1]))
        canvas = np.zeros((size[1], size[0], 3), np.uint8)
        top = (size[1] - scaled.shape[0]) // 2
        canvas[top:top + scaled.shape[0]] = scaled
        writer.write(canvas)
    writer.release()
    return out


def facecam(*args, env=None):
    return subprocess.run([sys.executable, "-m", "facecam", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=True)


def register_fps(video, registry, window_env) -> tuple[float, int]:
    args = ["register", "--name", "Speaker", "--source", video, "--registry", registry, "--replace", "--auto"]
    result = facecam(*args, *([] if window_env else ["--headless"]), env=window_env)
    line = next(x for x in result.stderr.splitlines() if "frames/s" in x)
    return float(re.search(r"([\d.]+) frames/s", line).group(1)), int(re.search(r"(\d+) sample", line).group(1))


def recognize_fps(video, registry, window_env) -> float:
    result = facecam("recognize", "--source", video, "--registry", registry, "--json",
                     *([] if window_env else ["--headless"]), env=window_env)
    return json.loads(result.stdout.splitlines()[-1])["summary"]["fps"]


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = letterboxed(data_dir() / "video/test.mp4", tmp / "speaker_640x480.mp4")
        xvfb = subprocess.Popen(["Xvfb", ":77", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        try:
            rows = []
            for label, env in (("window (Xvfb)", {"DISPLAY": ":77"}), ("headless", None)):
                enrol, samples = register_fps(video, tmp / "registry", env)
                rows.append((label, enrol, recognize_fps(video, tmp / "registry", env), samples))
            start = time.perf_counter()
            hugo = facecam("register", "--name", "Hugo", "--source", data_dir() / "recognition/lfw/Hugo_Chavez",
                           "--registry", tmp / "hugo", "--headless")
            hugo_seconds = time.perf_counter() - start
        finally:
            xvfb.terminate()
    print(f"Machine: {machine()}. Source: video/test.mp4 letterboxed into 640x480, 264 frames.\n")
    print("| loop | register: frames/s | recognize: frames/s | register / recognize | directions covered |")
    print("|---|---|---|---|---|")
    for label, enrol, recog, samples in rows:
        print(f"| {label} | {enrol:.1f} | {recog:.1f} | {enrol / recog:.2f} | {samples} of 9 |")
    print(f"\nHugo Chavez's 11 LFW photos as a source: {hugo.stderr.strip().splitlines()[-2]} "
          f"({hugo_seconds:.1f} s for the whole command, models loaded included)")


if __name__ == "__main__":
    main()
