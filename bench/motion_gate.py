"""The motion gate: what a camera costs while nobody is there, how soon an arrival is seen, and
what several sources get when most of them are idle; each with the gate (the default) next to
--no-motion, in the same run.

The still scene: the Hamilton clip's stage with the faces painted out, under sensor noise (4 grey
levels) and a light drifting by 15% over a minute, JPEG q75 (tests/scenes.py).

1. Idle: that scene as a 640x360 25 frames/s H.264 stream over RTSP (GStreamer's RTSP server,
   tests/rtsp_server.py), recognised by `facecam recognize --headless`: the CPU time of the
   facecam process (decoding included) per second, measured over SECONDS after a warm-up.
2. Arrival: a file of ARRIVALS times the still scene (4 s) then the clip's first 2 s, read in
   real time (--realtime: frames are dropped as a live source's would be); per arrival, the time
   from the first frame with his face to the first frame in which it was detected and named
   (the events' file times).
3. Eight sources in one process, 6 still and 2 with the clip, as JPEG over RTSP (encoded once
   for every client, as cameras do): frames processed per second on the two active ones, and the
   share naming him (the clip alone names him in 54% of its frames); then 4 sources, all active.

    .venv/bin/python bench/motion_gate.py [SECONDS, default 60] [--parts idle,arrival,many]
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import data_dir, git_commit, lin_registry, machine  # noqa: E402
from scenes import clip_frames, empty_stage, still_frames, write_jpegs, write_video  # noqa: E402
from services import RtspServer, video_frames  # noqa: E402

FPS = 25
WARMUP = 20.0  # seconds for the models to load and the stream to start before CPU is counted
ARRIVALS, STILL_S, ARRIVING_S = 6, 4.0, 2.0
LIN = "Lin-Manuel Miranda"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, every thread


def recognize(args: list[str], registry: Path) -> subprocess.Popen:
    """recognize --json, its lines going to a file (a pipe nobody reads would fill and stop it)."""
    out = tempfile.TemporaryFile("w+")
    process = subprocess.Popen([sys.executable, "-m", "facecam", "recognize", "--headless", "--json", "--no-history",
                                "--registry", str(registry), *args], stdout=out, stderr=subprocess.DEVNULL, text=True)
    process.out = out
    return process


def finish(process: subprocess.Popen, interrupt: bool = True) -> tuple[list[dict], dict]:
    """Ctrl-C (unless it ended, or interrupt is False: wait for its end); its events and its summary."""
    if interrupt and process.poll() is None:
        process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    process.out.seek(0)
    lines = [json.loads(line) for line in process.out.read().splitlines()]
    process.out.close()
    return [line for line in lines[:-1] if "frame" in line], lines[-1]["summary"]


def idle(url: str, registry: Path, seconds: float, gate: list[str]) -> dict:
    process = recognize(["--source", url, "--reconnect", "forever", *gate], registry)
    time.sleep(WARMUP)
    start, cpu = time.monotonic(), cpu_seconds(process.pid)
    time.sleep(seconds)
    share = (cpu_seconds(process.pid) - cpu) / (time.monotonic() - start)
    _, summary = finish(process)
    return {"cpu": share, "fps": summary["frames"] / summary["seconds"], "motion": summary["motion"],
            "detect_ms": summary["ms_per_frame"].get("detect", 0.0)}


def arrival(video: Path, registry: Path, gate: list[str]) -> dict:
    """Per arrival: seconds from his first frame to the first event of a face, and of his name."""
    events, summary = finish(recognize(["--source", str(video), "--realtime", *gate], registry), interrupt=False)
    period = STILL_S + ARRIVING_S
    found, named = [], []
    for k in range(ARRIVALS):
        arrives, leaves = k * period + STILL_S, (k + 1) * period
        inside = [e for e in events if arrives - 0.5 / FPS <= e["time"] < leaves]
        found.append(min((e["time"] for e in inside), default=float("nan")) - arrives)
        named.append(min((e["time"] for e in inside if e["name"] == LIN), default=float("nan")) - arrives)
    return {"found": found, "named": named, "motion": summary["motion"], "frames": summary["frames"]}


def many(urls: list[str], active: set[int], registry: Path, seconds: float, gate: list[str]) -> list[dict]:
    args = [a for k, url in enumerate(urls) for a in ("--source", f"{'cam' if k in active else 'idle'}{k}={url}")]
    process = recognize([*args, "--reconnect", "forever", *gate], registry)
    time.sleep(WARMUP + seconds)
    _, summary = finish(process)
    return summary["sources"]


def active_row(label: str, sources: list[dict]) -> str:
    busy = [s for s in sources if s["source"].startswith("cam")]
    fps = [s["frames"] / s["seconds"] for s in busy]
    named = [next((p["frames"] for p in s["people"] if p["name"] == LIN), 0) / max(s["frames"], 1) for s in busy]
    idle_fps = [s["frames"] / s["seconds"] for s in sources if s["source"].startswith("idle")]
    return (f"| {label} | {min(fps):.1f} - {max(fps):.1f} | {min(named):.0%} - {max(named):.0%} | "
            + (f"{statistics.median(idle_fps):.1f}" if idle_fps else "-") + " |")


def main():
    import argparse

    import cv2

    from facecam.models import retinaface

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("seconds", type=float, nargs="?", default=60.0, help="seconds per run, after the warm-up")
    parser.add_argument("--parts", default="idle,arrival,many", help="which: idle, arrival, many (comma-separated)")
    args = parser.parse_args()
    seconds, parts = args.seconds, set(args.parts.split(","))
    clip = data_dir() / "face_recognition_examples/examples/short_hamilton_clip.mp4"
    work = Path(tempfile.mkdtemp())
    lin_registry(work)
    stage = empty_stage(clip, retinaface.load(device="cpu"))
    period = int(FPS * 30)
    write_jpegs(still_frames(stage, period, FPS), work / "still")
    video_frames(clip, work / "clip")
    print(f"Machine: {machine()}; commit {git_commit()}. 640x360 at {FPS} frames/s; {seconds:g} s per run after "
          f"{WARMUP:g} s of warm-up.\n")

    if "idle" in parts:
        idle_part(work, seconds)
    if "arrival" in parts:
        arrival_part(work, clip, stage)
    if "many" in parts:
        many_part(work, seconds)
    cv2.destroyAllWindows()


def idle_part(work: Path, seconds: float) -> None:
    print("**Idle** (the still stage, H.264 over RTSP):\n")
    print("| run | CPU, share of one core | frames/s processed | frames the detector rested on | detect ms per frame |")
    print("|---|---|---|---|---|")
    server = RtspServer(work / "still", fps=f"{FPS}/1", codec="h264")
    try:
        runs = {label: idle(server.url, work / "registry", seconds, gate)
                for label, gate in (("--no-motion", ["--no-motion"]), ("motion gate (default)", []))}
    finally:
        server.stop()
    for label, r in runs.items():
        m = r["motion"]
        rested = f"{m['gated']:,} of {m['frames']:,} ({m['gated'] / m['frames']:.1%})" if m else "-"
        print(f"| {label} | {r['cpu']:.3f} | {r['fps']:.1f} | {rested} | {r['detect_ms']:.1f} |")
    print(f"\nRatio, gate / --no-motion: {runs['motion gate (default)']['cpu'] / runs['--no-motion']['cpu']:.3f}\n")


def arrival_part(work: Path, clip: Path, stage) -> None:
    print(f"**Arrival** ({ARRIVALS} arrivals, the file read in real time):\n")
    video = work / "arrivals.mp4"
    arriving = clip_frames(clip, int(ARRIVING_S * FPS))
    write_video(itertools.chain.from_iterable(
        itertools.chain(still_frames(stage, int(STILL_S * FPS), FPS, seed=k), arriving) for k in range(ARRIVALS)), video, FPS)
    print("| run | first detection, frames after his first (each arrival) | first name, frames after his first (each arrival) |")
    print("|---|---|---|")
    found = {}
    frames = lambda seconds: ", ".join("-" if math.isnan(s) else f"{s * FPS:.0f}" for s in seconds)  # noqa: E731
    for label, gate in (("--no-motion", ["--no-motion"]), ("motion gate (default)", [])):
        r = arrival(video, work / "registry", gate)
        found[label] = r["found"]
        print(f"| {label} | {frames(r['found'])} | {frames(r['named'])} |", flush=True)
    later = [FPS * (g - n) for g, n in zip(found["motion gate (default)"], found["--no-motion"])]
    print(f"\nThe gate's first detection against --no-motion's: {max(later):+.0f} frames at most "
          f"(median {statistics.median(later):+.0f}). '-': not named before he left (2 s).\n")


def many_part(work: Path, seconds: float) -> None:
    print("**Several sources** in one process (JPEG over RTSP, encoded once for every client):\n")
    print("| sources | run | frames/s on each active source | frames naming him | frames/s on an idle one (median) |")
    print("|---|---|---|---|---|")
    still = RtspServer(work / "still", fps=f"{FPS}/1", codec="jpeg-shared")
    busy = RtspServer(work / "clip", fps=f"{FPS}/1", codec="jpeg-shared")
    try:
        for label, urls, active in (("8: 6 idle, 2 active", [still.url] * 6 + [busy.url] * 2, {6, 7}),
                                    ("4, all active", [busy.url] * 4, {0, 1, 2, 3})):
            for run, gate in (("--no-motion", ["--no-motion"]), ("motion gate (default)", [])):
                print(f"| {label} " + active_row(run, many(urls, active, work / "registry", seconds, gate)), flush=True)
    finally:
        still.stop()
        busy.stop()


if __name__ == "__main__":
    main()
