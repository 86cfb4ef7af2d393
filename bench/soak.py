"""A long run on a live stream: does `facecam serve` keep its memory, file descriptors, threads and
frame rate over time, and come back each time the stream goes away?

One `facecam serve` recognises a looping RTSP stream (the Hamilton clip, 640x360 at 25 frames/s,
JPEG, tests/rtsp_server.py) for MINUTES (default 30) with its history on (SQLite) and Lin-Manuel
Miranda enrolled; every RESTART_EVERY seconds (default 300) the RTSP server is killed and started
again 5 s later, so the reconnect path runs about six times. Every 10 s the script reads the
server's /health (frames processed, reconnects) and the process's resident memory, open file
descriptors and threads (/proc). Reported per 5-minute stretch, then the verdict: memory growth
after the first 5 minutes (warm-up), the frame rate's spread, descriptors and threads at the
start and the end, reconnects counted against restarts made, sightings stored.

With --door the stream is a door most of the time empty: the clip's stage with the faces painted
out under sensor noise and a drifting light for 60 s (tests/scenes.py), then the clip (he walks
on), looped, so the motion gate rests the detector most of the time; the CPU the process takes
per stretch tells whether an idle source stays cheap.

    .ci/setup test && .venv/bin/python bench/soak.py [MINUTES] [RESTART_EVERY] [--door]
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import data_dir, git_commit, lin_registry, machine  # noqa: E402
from services import RtspServer, free_port, video_frames  # noqa: E402

LIN = "Lin-Manuel Miranda"
SAMPLE = 10.0


def proc(pid: int) -> dict:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return {"rss_mib": int(status["VmRSS"].split()[0]) / 1024, "threads": int(status["Threads"]),
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "cpu_s": (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")}  # utime + stime, every thread


def health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return json.loads(response.read())["sources"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("minutes", type=float, nargs="?", default=30.0)
    parser.add_argument("restart_every", type=float, nargs="?", default=300.0, help="seconds between restarts of the stream")
    parser.add_argument("--door", action="store_true", help="an empty door for 60 s, then his arrival, looped")
    args = parser.parse_args()
    minutes, restart_every = args.minutes, args.restart_every
    examples = data_dir() / "face_recognition_examples/examples"
    work = Path(tempfile.mkdtemp())
    clip = examples / "short_hamilton_clip.mp4"
    if args.door:
        from facecam.models import retinaface
        from scenes import clip_frames, empty_stage, still_frames, write_jpegs

        stage = empty_stage(clip, retinaface.load(device="cpu"))
        write_jpegs(itertools.chain(still_frames(stage, 60 * 25, 25.0), clip_frames(clip)), work / "frames")
    else:
        video_frames(clip, work / "frames")
    lin_registry(work)
    rtsp = RtspServer(work / "frames", fps="25/1", codec="jpeg-shared")
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "facecam", "serve", "--port", str(port), "--source", f"door={rtsp.url}",
                              "--registry", str(work / "registry"), "--history", str(work / "history.sqlite")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples, restarts = [], 0
    start = time.monotonic()
    next_restart = start + restart_every
    try:
        while health(port) is None:
            if serve.poll() is not None:
                raise SystemExit(f"facecam serve ended: {serve.stderr.read()[-2000:]}")
            time.sleep(1)
        start = time.monotonic()
        next_restart = start + restart_every
        while time.monotonic() - start < minutes * 60:
            time.sleep(SAMPLE)
            now = time.monotonic()
            h = health(port)
            if h is not None:
                samples.append({"t": now - start, **proc(serve.pid), "frames": h["frames"], "reconnects": h["reconnects"],
                                "gated": h["gated"]})
            if now >= next_restart:
                rtsp.stop()
                time.sleep(5)
                rtsp.start()
                restarts += 1
                next_restart = now + restart_every
        time.sleep(15)  # let the last reconnection happen
        last = health(port)
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
        rtsp.stop()
    from facecam.history import History

    history = History.open(work / "history.sqlite")
    stored = history.count()
    named = history.count(name=LIN)
    history.close()

    scene = ("a door: the empty stage 60 s, then the clip, looped" if args.door else "the Hamilton clip")
    print(f"Machine: {machine()}; commit {git_commit()}. facecam serve on one RTSP stream ({scene}, "
          f"640x360, 25 frames/s, JPEG), history on, {minutes:g} min, the stream's server restarted every "
          f"{restart_every:g} s.\n")
    print("| minutes | frames/s processed | detector rested | CPU, share of one core | resident memory | threads | file descriptors |")
    print("|---|---|---|---|---|---|---|")
    stretch = 300.0
    rates, cpus = [], []
    for k in range(int(minutes * 60 // stretch)):
        part = [s for s in samples if k * stretch <= s["t"] < (k + 1) * stretch]
        if len(part) < 2:
            continue
        seconds = part[-1]["t"] - part[0]["t"]
        rate, cpu = (part[-1]["frames"] - part[0]["frames"]) / seconds, (part[-1]["cpu_s"] - part[0]["cpu_s"]) / seconds
        rested = (part[-1]["gated"] - part[0]["gated"]) / max(1, part[-1]["frames"] - part[0]["frames"])
        rates.append(rate)
        cpus.append(cpu)
        print(f"| {k * 5}-{k * 5 + 5} | {rate:.1f} | {rested:.0%} | {cpu:.3f} | {statistics.median(s['rss_mib'] for s in part):.0f} MiB | "
              f"{max(s['threads'] for s in part)} | {max(s['fds'] for s in part)} |")
    warm = [s for s in samples if s["t"] >= stretch]
    after_warmup, at_end = warm[0]["rss_mib"], statistics.median(s["rss_mib"] for s in warm[-6:])
    print(f"\nMemory after warm-up {after_warmup:.0f} MiB, at the end {at_end:.0f} MiB: "
          f"{100 * (at_end / after_warmup - 1):+.1f}%; frames/s per stretch {min(rates):.1f} - {max(rates):.1f}; "
          f"CPU per stretch {min(cpus):.3f} - {max(cpus):.3f} of one core; "
          f"threads {samples[0]['threads']} at the start, {samples[-1]['threads']} at the end; file descriptors "
          f"{samples[0]['fds']} -> {samples[-1]['fds']}; reconnects {last['reconnects'] if last else '?'} of "
          f"{restarts} restarts; state at the end: {last['state'] if last else 'no answer'}; "
          f"{stored} sightings stored, {named} of them naming him.")


if __name__ == "__main__":
    main()
