"""Several streams at once: four 640x360 RTSP streams at 25 frames/s recognised by one facecam
process (one detector and embedder, a tracker per stream) next to four separate processes (one
stream each), on the same machine, one after the other.

The streams: the Hamilton clip looped, as JPEG over RTSP (tests/rtsp_server.py), each client its
own stream from the first frame, served two ways: the clip's own JPEG frames passed through (as
an IP camera's hardware encoder sends them: the server costs this machine next to nothing), and
decoded and encoded again by the server for every client (the server then takes a share of the
same two cores); Lin-Manuel Miranda enrolled from his example photo. Each run
lasts SECONDS (default 60) and ends with Ctrl-C. Reported per stream: frames processed per
second, the share of them in which Lin-Manuel Miranda is named (on his own the clip names him in
149 of 275 frames, 54%), frames dropped; and the resident memory (largest seen, all processes).

    .venv/bin/python bench/multi_source.py [SECONDS]
"""

from __future__ import annotations

import json
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
from services import RtspServer, video_frames  # noqa: E402

STREAMS = 4
LIN = "Lin-Manuel Miranda"


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def recognize(args: list[str], registry: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "facecam", "recognize", "--headless", "--json", "--no-history",
                             "--registry", str(registry), "--reconnect", "forever", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def run(processes: list[subprocess.Popen], seconds: float) -> tuple[list[dict], int]:
    """Let them run, sampling memory; Ctrl-C; their summaries and the largest total memory (kB)."""
    end, peak = time.monotonic() + seconds, 0
    while time.monotonic() < end:
        peak = max(peak, sum(rss_kb(p.pid) for p in processes))
        time.sleep(0.5)
    for p in processes:
        p.send_signal(signal.SIGINT)
    summaries = []
    for p in processes:
        out, _ = p.communicate(timeout=60)
        summaries.append(json.loads(out.splitlines()[-1])["summary"])
    return summaries, peak


def row(label: str, per_stream: list[dict], peak_kb: int) -> str:
    fps = [s["frames"] / s["seconds"] for s in per_stream]
    sent = statistics.median((s["frames"] + s["dropped"]) / s["seconds"] for s in per_stream)
    named = [next((p["frames"] for p in s["people"] if p["name"] == LIN), 0) / max(s["frames"], 1) for s in per_stream]
    return (f"| {label} | {min(fps):.1f} - {max(fps):.1f} (median {statistics.median(fps):.1f}) | "
            f"{sum(fps):.1f} | {sent:.1f} | {min(named):.0%} - {max(named):.0%} | {sum(s['dropped'] for s in per_stream)} | "
            f"{peak_kb / 1024:,.0f} MiB |")


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    examples = data_dir() / "face_recognition_examples/examples"
    work = Path(tempfile.mkdtemp())
    video_frames(examples / "short_hamilton_clip.mp4", work / "frames")
    lin_registry(work)
    print(f"Machine: {machine()}; commit {git_commit()}. {STREAMS} streams of the Hamilton clip, 640x360 at 25 "
          f"frames/s (JPEG over RTSP), {seconds:g} s per run.\n")
    print("| server | run | frames/s per stream | frames/s in all | received per stream | frames naming him | dropped | memory |")
    print("|---|---|---|---|---|---|---|---|")
    for codec, served in (("jpeg-shared", "encodes once for all"), ("jpeg", "encodes each client's JPEG")):
        server = RtspServer(work / "frames", fps="25/1", codec=codec)
        try:
            sources = [arg for k in range(STREAMS) for arg in ("--source", f"cam{k}={server.url}")]
            (one,), peak = run([recognize(sources, work / "registry")], seconds)
            print(f"| {served} " + row("one process, 4 sources", one["sources"], peak), flush=True)
            alone = [recognize(["--source", server.url], work / "registry") for _ in range(STREAMS)]
            summaries, peak = run(alone, seconds)
            print(f"| {served} " + row("4 processes, 1 source each", summaries, peak), flush=True)
            (single,), peak = run([recognize(["--source", server.url], work / "registry")], seconds)
            print(f"| {served} " + row("1 process, 1 source (reference)", [single], peak), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
