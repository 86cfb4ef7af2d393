"""`facecam serve`: latency of POST /recognize over HTTP, one client and four at once, next to
face_recognition recognising the same photo in-process (HOG detector, face_encodings, 0.6 rule)
against the same two enrolled people.

    .ci/setup bench && .venv/bin/python bench/serve_latency.py
"""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine  # noqa: E402

REPEATS = 30


def main():
    knn = data_dir() / "face_recognition_examples" / "examples" / "knn_examples"
    enrol = {"Barack Obama": knn / "train/obama/obama.jpg", "Joe Biden": knn / "train/biden/biden.jpg"}
    probe = knn / "test/obama_and_biden.jpg"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FACECAM_TOKEN": "bench"}
        server = subprocess.Popen([sys.executable, "-m", "facecam", "serve", "--port", str(port), "--registry",
                                   Path(tmp) / "registry"], env=env, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    httpx.get(f"{url}/health", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            for name, path in enrol.items():
                httpx.post(f"{url}/identities/{name}/samples", headers={"Authorization": "Bearer bench"},
                           files={"images": (path.name, path.read_bytes())}, timeout=60).raise_for_status()
            body = {"image": (probe.name, probe.read_bytes(), "image/jpeg")}

            def one(_=None):
                start = time.perf_counter()
                r = httpx.post(f"{url}/recognize", files=body, timeout=120)
                r.raise_for_status()
                return time.perf_counter() - start, sorted(f["name"] or "-" for f in r.json()["faces"])

            one()
            single = [one() for _ in range(REPEATS)]
            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                parallel = list(pool.map(one, range(REPEATS)))
            parallel_seconds = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait()

    import face_recognition

    known = [face_recognition.face_encodings(face_recognition.load_image_file(p))[0] for p in enrol.values()]
    fr_times = []
    for _ in range(5):
        start = time.perf_counter()
        rgb = face_recognition.load_image_file(probe)
        encodings = face_recognition.face_encodings(rgb, face_recognition.face_locations(rgb))
        names = sorted(list(enrol)[int(np.argmin(d))] if d.min() <= 0.6 else "-"
                       for d in (face_recognition.face_distance(known, e) for e in encodings))
        fr_times.append(time.perf_counter() - start)

    ms = lambda xs: 1000 * float(np.median(xs))  # noqa: E731
    print(f"Machine: {machine()}. Photo: {probe.name} (2000x1428, 3 faces), {REPEATS} requests each.\n")
    print("| pipeline | median latency | requests/s | names |")
    print("|---|---|---|---|")
    print(f"| facecam serve, one client | {ms([t for t, _ in single]):.0f} ms | {1 / np.median([t for t, _ in single]):.1f} | {single[0][1]} |")
    print(f"| facecam serve, 4 clients at once | {ms([t for t, _ in parallel]):.0f} ms | {REPEATS / parallel_seconds:.1f} | {parallel[0][1]} |")
    print(f"| face_recognition in-process (no HTTP) | {ms(fr_times):.0f} ms | {1 / np.median(fr_times):.1f} | {names} |")


if __name__ == "__main__":
    main()
