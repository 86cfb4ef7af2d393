"""The registry in PostgreSQL next to the folder registry, in one run on one machine.

1. 100,000 samples (128-d, 10,000 people): the time to open (load) each, and the time to match
   one query and a batch of 32 (in memory both: the same NumPy code).
2. From a commit on one process to its use on another: a reader process reloads as a recognizer
   does (every Recognizer.RELOAD_SECONDS) and reports when it first sees each of 30 enrolments a
   writer makes, 1 s apart; the median and p95 of the delay (the goal: p95 under 2 s).
3. Enrolment with 4 writer processes at once, 25 enrolments each (one person, 4 samples, per
   transaction): enrolments per second, and whether every one is there after.

A throw-away PostgreSQL server is started as the tests start theirs (tests/services.py).

    .ci/setup test && .venv/bin/python bench/shared_registry.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import machine  # noqa: E402
from services import Postgres  # noqa: E402

from facecam.registry import Registry, now, transaction  # noqa: E402

MODEL = {"name": "bench-model", "dim": 128, "sha256": "0" * 64}
PEOPLE, PER_PERSON = 10_000, 10


def unit(rng, n):
    v = rng.normal(size=(n, MODEL["dim"])).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def fill(place) -> float:
    """100,000 samples saved in one transaction (set in memory at once: Registry.add, one person at
    a time, is not what is measured here)."""
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    with transaction(place, model=MODEL, create=True) as reg:
        reg.identities = [{"name": f"person {k:05d}", "created": now(), "updated": now()} for k in range(PEOPLE)]
        reg.samples = [{"identity": k // PER_PERSON, "id": uuid.uuid4().hex, "time": now(), "source": "bench"}
                       for k in range(PEOPLE * PER_PERSON)]
        reg.vectors, reg.changed = unit(rng, PEOPLE * PER_PERSON), True
    return time.perf_counter() - start


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


READER = textwrap.dedent("""
    import sys, time
    from facecam.registry import Registry
    from facecam.pipeline import Recognizer
    reg = Registry.open(sys.argv[1])
    seen = set(reg.names())
    print("ready", flush=True)
    end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:
        time.sleep(Recognizer.RELOAD_SECONDS)
        reg = reg.reload()
        for name in set(reg.names()) - seen:
            print(name, time.time(), flush=True)
        seen = set(reg.names())
""")

WRITER = textwrap.dedent("""
    import sys, numpy as np
    from facecam.registry import transaction
    model = {"name": "bench-model", "dim": 128, "sha256": "0" * 64}
    rng = np.random.default_rng(int(sys.argv[3]))
    for k in range(int(sys.argv[2])):
        v = rng.normal(size=(4, 128)).astype(np.float32)
        with transaction(sys.argv[1], model=model, create=True) as reg:
            reg.add(f"w{sys.argv[3]}-{k}", v / np.linalg.norm(v, axis=1, keepdims=True), [{"source": "bench"}] * 4)
""")


def latency(place, count: int = 30) -> list[float]:
    with transaction(place, model=MODEL, create=True) as reg:
        reg.add("first", unit(np.random.default_rng(1), 1), [{"source": "bench"}])
    reader = subprocess.Popen([sys.executable, "-c", READER, str(place), str(count * 1.0 + 10)], stdout=subprocess.PIPE,
                              text=True)
    assert reader.stdout.readline() == "ready\n"
    time.sleep(2)  # its watch listening
    committed = {}
    rng = np.random.default_rng(2)
    for k in range(count):
        with transaction(place, model=MODEL) as reg:
            reg.add(f"new {k}", unit(rng, 1), [{"source": "bench"}])
        committed[f"new {k}"] = time.time()
        time.sleep(1.0)
    delays = []
    for line in reader.stdout:
        name, when = line.rsplit(" ", 1)
        delays.append(float(when) - committed[name])
        if len(delays) == count:
            break
    reader.kill()
    return delays


def writers(place, each: int = 25) -> tuple[float, int]:
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(place), str(each), str(w)]) for w in range(4)]
    for p in procs:
        assert p.wait() == 0
    seconds = time.perf_counter() - start
    return 4 * each / seconds, len(Registry.open(place).names())


def main():
    print(machine())
    pg = Postgres(fsync=True)
    try:
        with tempfile.TemporaryDirectory() as work:
            folder, url = Path(work) / "registry", pg.new_database()
            rows = []
            for kind, place in (("folder", folder), ("PostgreSQL", url)):
                filled = fill(place)
                opened = timed(lambda: Registry.open(place), 5)
                reg = Registry.open(place)
                queries = unit(np.random.default_rng(3), 32)
                one = timed(lambda: reg.match(queries[:1], 0.5), 50)
                batch = timed(lambda: reg.match(queries, 0.5), 20)
                rows.append((kind, filled, opened, one, batch, len(reg.samples)))
            print("\n| registry | 100,000 samples saved (one transaction) | open (load) | match 1 query | match 32 |")
            print("|---|---|---|---|---|")
            for kind, filled, opened, one, batch, samples in rows:
                assert samples == PEOPLE * PER_PERSON
                print(f"| {kind} | {filled:.1f} s | {opened * 1000:.0f} ms | {one * 1000:.1f} ms | {batch * 1000:.1f} ms |")
            print(f"ratios PostgreSQL / folder: open {rows[1][2] / rows[0][2]:.2f}, match {rows[1][3] / rows[0][3]:.2f}")

            print("\n| registry | commit to use on another process: median | p95 | max |")
            print("|---|---|---|---|")
            for kind, place in (("folder", Path(work) / "latency"), ("PostgreSQL", pg.new_database())):
                delays = sorted(latency(place))
                p95 = delays[int(round(0.95 * (len(delays) - 1)))]
                print(f"| {kind} | {statistics.median(delays) * 1000:.0f} ms | {p95 * 1000:.0f} ms | {delays[-1] * 1000:.0f} ms |")

            print("\n| registry | 4 writers, 25 enrolments each: enrolments/s | people after |")
            print("|---|---|---|")
            for kind, place in (("folder", Path(work) / "writers"), ("PostgreSQL", pg.new_database())):
                rate, people = writers(place)
                print(f"| {kind} | {rate:.1f} | {people} of 100 |")
    finally:
        pg.close()


if __name__ == "__main__":
    main()
