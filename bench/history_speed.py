"""The history's cost: recognize's frame rate with the history on and off (same run, alternating),
and queries over a synthetic history of 1,000,000 sightings in SQLite and PostgreSQL.

Frame rate: the Hamilton clip, Lin-Manuel Miranda enrolled from his example photo, every frame,
headless, the models loaded once; five rounds of off / SQLite / PostgreSQL, median per mode.

Synthetic history: 1,000,000 sightings over the 365 days up to now (about 2,700 a day), 200
people and 30% unknown faces, 4 sources, durations exponential with a 60 s mean. Timed (median of
7 after a warm-up): one person's newest 100 (`facecam history --name X --limit 100`), one day's
attendance and a 30-day month's (`facecam report attendance`), through the library; and the
command itself, Python's start included. Size: the database per million sightings without faces,
and with a face per sighting (a real 224x224 JPEG crop and a 128-d embedding), measured on
100,000 and scaled.

    .venv/bin/python bench/history_speed.py          (PostgreSQL from Debian's postgresql package)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import data_dir, git_commit, machine, median_ms  # noqa: E402
from services import Postgres  # noqa: E402

from facecam.history import History, Recorder, Writer, attendance, local_midnight  # noqa: E402
from facecam.history.schema import faces, sightings  # noqa: E402

ROUNDS = 5
SIGHTINGS = 1_000_000
WITH_FACES = 100_000
DAY = 86400.0


def frame_rates(store_targets: dict) -> None:
    import cv2

    from facecam import live
    from facecam.enrol import photo_sample
    from facecam.models import load_embedder, retinaface
    from facecam.pipeline import Recognizer
    from facecam.registry import Registry
    from facecam.sources import FrameSource

    examples = data_dir() / "face_recognition_examples/examples"
    clip = examples / "short_hamilton_clip.mp4"
    detector, embedder = retinaface.load(device="cpu"), load_embedder(None, device="cpu")
    folder = Path(tempfile.mkdtemp())
    registry = Registry.open(folder / "registry", model=embedder.model_info, create=True)
    sample, _ = photo_sample(cv2.imread(str(examples / "lin-manuel-miranda.png")), detector, embedder, "bench", False)
    registry.add("Lin-Manuel Miranda", sample.vector[None], [sample.metadata])
    rates: dict[str, list[float]] = {mode: [] for mode in ("off", *store_targets)}
    stored: dict[str, int] = {}
    for _ in range(ROUNDS):
        for mode in rates:
            writer = None if mode == "off" else Writer(History.open(store_targets[mode](), create=True))
            with FrameSource(source=clip) as frames:
                recorder = None if writer is None else Recorder(writer, source=frames.name, live=False, model=embedder.name)
                loop, _ = live.recognize(frames, Recognizer(detector, embedder, registry), headless=True, output=None,
                                         max_frames=None, observers=[recorder] if recorder else [], writer=writer)
            rates[mode].append(loop.frames / loop.seconds)
            if writer is not None:
                writer.close()
                stored[mode] = writer.stored
    off = statistics.median(rates["off"])
    print(f"| history | frames/s (median of {ROUNDS}) | range | vs off | sightings stored |")
    print("|---|---|---|---|---|")
    for mode, values in rates.items():
        rate = statistics.median(values)
        print(f"| {mode} | {rate:.1f} | {min(values):.1f}-{max(values):.1f} | {rate / off:.3f} | {stored.get(mode, '-')} |")
    print()


def synthetic_rows(rng, now: float, count: int) -> list[dict]:
    starts = np.sort(rng.uniform(now - 365 * DAY, now, count))
    durations = np.minimum(rng.exponential(60.0, count), 3600.0)
    people = rng.integers(0, 200, count)
    unknown = rng.random(count) < 0.3
    sources = rng.integers(0, 4, count)
    scores = rng.uniform(0.3, 1.0, count)
    return [{"source": f"camera {s}", "track_id": i % 5000, "name": None if u else f"Person {p:03d}",
             "started_at": float(t), "ended_at": float(t + d), "start_s": None, "end_s": None,
             "frames": int(d * 10) + 1, "best_score": round(float(c), 4), "closed": True}
            for i, (t, d, p, u, s, c) in enumerate(zip(starts, durations, people, unknown, sources, scores))]


def fill(history: History, rows: list[dict], face: dict | None = None) -> float:
    start = time.perf_counter()
    with history.engine.begin() as conn:
        for k in range(0, len(rows), 20_000):
            batch = rows[k : k + 20_000]
            conn.execute(sightings.insert(), batch)
        if face is not None:
            ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM sightings")]
            for k in range(0, len(ids), 5_000):
                conn.execute(faces.insert(), [{"sighting_id": i, **face} for i in ids[k : k + 5_000]])
    with history.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return time.perf_counter() - start


def sizes(history: History) -> int:
    if history.dialect == "sqlite":
        history.checkpoint()  # the log holds a second copy of what was just written
        return history.size()
    with history.engine.connect() as conn:
        return sum(conn.exec_driver_sql(f"SELECT pg_total_relation_size('{t}')").scalar() for t in ("sightings", "faces"))


def queries(name: str, target_for) -> None:
    import cv2

    from facecam.align import canonical_crop
    from facecam.models import retinaface

    rng = np.random.default_rng(0)
    now = time.time()
    rows = synthetic_rows(rng, now, SIGHTINGS)
    history = History.open(target_for(), create=True)
    seconds = fill(history, rows)
    plain = sizes(history)
    person = "Person 042"
    newest = median_ms(lambda: history.sightings(name=person, limit=100), 7)
    today = local_midnight(__import__("datetime").date.today())
    day_rows = attendance(history.named_intervals(today - DAY, today), since=today - DAY, until=today)
    one_day = median_ms(lambda: attendance(history.named_intervals(today - DAY, today), since=today - DAY, until=today), 7)
    month = median_ms(lambda: attendance(history.named_intervals(today - 30 * DAY, today), since=today - 30 * DAY,
                                         until=today), 7)
    where = history.engine.url.database if history.dialect == "sqlite" else history.engine.url.render_as_string(False)
    command = [sys.executable, "-m", "facecam", "history", "--name", person, "--limit", "100", "--json", "--history", where]
    subprocess.run(command, capture_output=True, check=True)
    cli = median_ms(lambda: subprocess.run(command, capture_output=True, check=True), 5)
    history.close()

    examples = data_dir() / "recognition" / "lfw" / "Abdullah_Gul"
    image = cv2.imread(str(examples / "Abdullah_Gul_0001.jpg"))
    found = max(retinaface.load(device="cpu").detect(image), key=lambda f: f.score)
    crop, landmarks = canonical_crop(image, found.landmarks)
    face = {"crop": cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes(),
            "landmarks": landmarks.astype("<f4").tobytes(),
            "embedding": rng.standard_normal(128).astype("<f4").tobytes(), "model": "sface"}
    small = History.open(target_for(), create=True)
    fill(small, synthetic_rows(rng, now, WITH_FACES), face)
    with_faces = sizes(small) * SIGHTINGS / WITH_FACES
    small.close()
    print(f"| {name} | {seconds:.0f} s | {newest:.1f} ms | {one_day:.0f} ms ({len(day_rows)} rows) | {month:.0f} ms | "
          f"{cli:.0f} ms | {plain / 2**20:,.0f} MiB | {with_faces / 2**30:,.1f} GiB ({len(face['crop']) / 1024:.1f} kB JPEG) |",
          flush=True)


def main():
    print(f"Machine: {machine()}; commit {git_commit()}.\n")
    folder = Path(tempfile.mkdtemp())
    counter = iter(range(1_000_000))
    postgres = Postgres(fsync=True) if Postgres.installed() else None
    try:
        targets = {"sqlite": lambda: str(folder / f"h{next(counter)}.sqlite")}
        if postgres is not None:
            targets["postgresql"] = postgres.new_database
        frame_rates(targets)
        print("| database | fill 1M | newest 100 of one person | one day's attendance | a month's | "
              "`facecam history --name X --limit 100` | size per 1M | with a face each |")
        print("|---|---|---|---|---|---|---|---|")
        for name, target_for in targets.items():
            queries(name, target_for)
    finally:
        if postgres is not None:
            postgres.close()


if __name__ == "__main__":
    main()
