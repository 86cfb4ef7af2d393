"""What acting on events costs: `recognize` on the Hamilton clip with MQTT and a webhook on vs
off, and how long an event takes from the frame it is about to a subscriber.

Runs alternate (off, on, off, on, ...) ROUNDS times (default 3), each the whole clip (275 frames,
Lin-Manuel Miranda enrolled, the history on in both), frames per second from recognize's own
summary. "On": --mqtt to a Mosquitto broker started here and --webhook to a local HTTP receiver,
with --snapshots (every event carries its face). Latency: a subscriber's receive time minus the
event's "time" (the wall-clock time of the frame that made it, or for "left" of the moment
away-after ran out), same machine, same clock.

    .ci/setup test && .venv/bin/python bench/notify_speed.py [ROUNDS]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import data_dir, git_commit, lin_registry, machine  # noqa: E402
from services import Mosquitto, Receiver, Subscriber  # noqa: E402

LIN = "Lin-Manuel Miranda"


def recognize(clip: Path, registry: Path, history: Path, extra: list[str]) -> dict:
    result = subprocess.run([sys.executable, "-m", "facecam", "recognize", "--source", str(clip), "--registry",
                             str(registry), "--headless", "--json", "--history", str(history), *extra],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])["summary"]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    examples = data_dir() / "face_recognition_examples/examples"
    clip = examples / "short_hamilton_clip.mp4"
    work = Path(tempfile.mkdtemp())
    lin_registry(work)
    broker, receiver = Mosquitto(), Receiver()
    received: list[tuple[float, dict]] = []
    sub = Subscriber(broker.port, topics=("bench/events",))
    sub.client.on_message = lambda client, userdata, msg: received.append((time.time(), json.loads(msg.payload)))
    on = ["--mqtt", broker.url("bench"), "--webhook", receiver.url, "--snapshots"]
    rates = {"off": [], "on": []}
    try:
        for k in range(rounds):
            for mode in ("off", "on"):
                summary = recognize(clip, work / "registry", work / f"history-{mode}-{k}.sqlite", on if mode == "on" else [])
                rates[mode].append(summary["fps"])
        time.sleep(1)
    finally:
        sub.close()
        broker.close()
        receiver.close()
    latency: dict[str, list[float]] = {}
    for got, event in received:
        sent = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
        latency.setdefault(event["event"], []).append(1000 * (got - sent))
    off, on_ = statistics.median(rates["off"]), statistics.median(rates["on"])
    print(f"Machine: {machine()}; commit {git_commit()}. The Hamilton clip (275 frames), history on, {rounds} runs "
          "each way, alternating.\n")
    print("| run | frames/s (median) | runs |")
    print("|---|---|---|")
    print(f"| MQTT and webhook off | {off:.2f} | {', '.join(f'{r:.2f}' for r in rates['off'])} |")
    print(f"| MQTT (with snapshots) and webhook on | {on_:.2f} | {', '.join(f'{r:.2f}' for r in rates['on'])} |")
    print(f"\nOn / off: {on_ / off:.3f}. Webhook requests received: {len(receiver.requests)}; "
          f"MQTT events received: {len(received)}.\n")
    print("| event | count | latency median | p95 | max |")
    print("|---|---|---|---|---|")
    for kind, values in sorted(latency.items()):
        values.sort()
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        print(f"| {kind} | {len(values)} | {statistics.median(values):.1f} ms | {p95:.1f} ms | {values[-1]:.1f} ms |")


if __name__ == "__main__":
    main()
