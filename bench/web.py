"""The web page of `facecam serve` in headless Chromium on localhost: the bytes of the first load,
the time to the first live stream frame, and the browser enrolment's round trip per frame
(640x480 JPEG up, guidance back) next to the same Enrolment step run in-process on the same frames.

    .ci/setup bench && .venv/bin/python bench/web.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))
from common import data_dir, git_commit, machine  # noqa: E402
from services import camera_file, chromium  # noqa: E402 (the fake camera and browser the tests use)

CLIP = "face_recognition_examples/examples/short_hamilton_clip.mp4"
TOKEN = "bench"
LOADS = 5
FRAMES = 150


def until(condition, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise SystemExit(f"the page did not get there: {what}")
        time.sleep(0.05)
    return value


def in_process(y4m: Path) -> list[float]:
    """Decode the JPEG, detect, and offer to an Enrolment: the server's work per frame, no HTTP."""
    from facecam import enrol
    from facecam.models import retinaface
    from facecam.models import load_embedder
    from facecam.images import decode_image

    detector, embedder = retinaface.load(device="cpu"), load_embedder(None, device="cpu")
    frames = frames_of(y4m)
    enrolment, times = enrol.Enrolment(), []
    for i in range(FRAMES):
        jpeg = cv2.imencode(".jpg", frames[i % len(frames)], [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
        start = time.perf_counter()
        image = decode_image(jpeg, "frame")
        enrolment.offer(image, detector.detect(image), embedder, {"source": "browser"})
        enrolment.guidance()
        times.append((time.perf_counter() - start) * 1000)
    return times


def frames_of(y4m: Path) -> list[np.ndarray]:
    data = y4m.read_bytes()
    body = data[data.index(b"\n") + 1:]
    size = 640 * 480 * 3 // 2
    chunks = body.split(b"FRAME\n")[1:]
    return [cv2.cvtColor(np.frombuffer(c[:size], np.uint8).reshape(720, 640), cv2.COLOR_YUV2BGR_I420) for c in chunks]


def main():
    data = data_dir()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        y4m = camera_file(data / CLIP, tmp / "camera.y4m")
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "facecam", "serve", "--port", str(port), "--registry",
                                   tmp / "registry", "--no-history", "--source", data / CLIP],
                                  env={**os.environ, "FACECAM_TOKEN": TOKEN}, stderr=subprocess.DEVNULL)
        driver = None
        try:
            until(lambda: _up(url), "the server up")
            driver = chromium(y4m)
            driver.get(f"{url}/")
            until(lambda: driver.execute_script("return !document.getElementById('view-login').hidden"), "the login form")
            page_bytes = driver.execute_script(
                "return performance.getEntriesByType('navigation')[0].transferSize + performance.getEntriesByType('resource')"
                ".filter(e => e.name.includes('/app/')).reduce((n, e) => n + e.transferSize, 0)")
            driver.find_element("id", "login-token").send_keys(TOKEN)
            driver.find_element("id", "login-form").submit()
            until(lambda: driver.execute_script("return window.firstFrameAt !== undefined"), "the first frame")
            first_load = driver.execute_script(
                "return performance.getEntriesByType('navigation')[0].transferSize + performance.getEntriesByType('resource')"
                ".filter(e => !e.name.includes('/stream') && !e.name.includes('/events')).reduce((n, e) => n + e.transferSize, 0)")
            firsts = []
            for _ in range(LOADS):  # logged in, as a returning visitor: what the live view takes to show a frame
                driver.get(f"{url}/#live?{time.time()}")
                driver.refresh()
                firsts.append(until(lambda: driver.execute_script("return window.firstFrameAt"), "the first frame after a reload"))
            driver.get(f"{url}/#enrol")
            until(lambda: driver.execute_script("return !document.getElementById('view-enrol').hidden"), "the enrol view")
            driver.find_element("id", "enrol-name").send_keys("Bench Person")
            driver.find_element("id", "enrol-start").click()
            until(lambda: driver.execute_script("return enrolment.times.length") >= FRAMES + 5, "the enrolment frames", timeout=600)
            trips = driver.execute_script("return enrolment.times")[5:FRAMES + 5]  # past the camera's start
            driver.find_element("id", "enrol-cancel").click()
        finally:
            if driver is not None:
                driver.quit()
            server.terminate()
            server.wait(timeout=30)
        local = in_process(y4m)  # the server stopped: the same cores to itself

    def ms(values, q):
        return float(np.percentile(values, q))

    print(f"Machine: {machine()}; commit {git_commit()}. Chromium {_chromium()}, headless, on the same 2 cores as the "
          f"server (a 640x480 fake camera from the Hamilton clip; the clip as the live source).\n")
    print("| measure | value |\n|---|---|")
    print(f"| the page itself (HTML, script, style, icon) | {page_bytes / 1000:.1f} KB |")
    print(f"| first load, logged in, to the first stream frame (page + API answers, stream excluded) | {first_load / 1000:.1f} KB |")
    print(f"| time to the first stream frame, median of {LOADS} loads | {statistics.median(firsts):.0f} ms |")
    print()
    print(f"| enrolment frame ({FRAMES} frames) | median | p95 |\n|---|---|---|")
    print(f"| browser: JPEG upload to guidance back (HTTP round trip) | {ms(trips, 50):.1f} ms | {ms(trips, 95):.1f} ms |")
    print(f"| in-process: decode + detect + Enrolment.offer | {ms(local, 50):.1f} ms | {ms(local, 95):.1f} ms |")
    print(f"\nRound trip / in-process, median: {ms(trips, 50) / ms(local, 50):.2f}x")


def _up(url):
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _chromium():
    return subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.split()[1]


if __name__ == "__main__":
    main()
