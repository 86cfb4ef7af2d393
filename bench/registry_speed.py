"""Registry matching latency, load time and memory at 1k to 1M enrolled vectors, D = 128 and 512.

Vectors are random unit vectors in groups of 5 samples per identity (matching cost depends on the
sizes only). Match: one query, and a batch of 8 (a frame with 8 faces), median of repeated runs.
Load: `Registry.open` of a saved registry (sha256 of both arrays included), up to 100k rows.

    .venv/bin/python bench/registry_speed.py
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, median_ms  # noqa: E402

from facecam.registry import Registry, now, per_identity_scores  # noqa: E402

SAMPLES_PER_ID = 5


def unit(rng, n, d):
    v = rng.standard_normal((n, d), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def main():
    rng = np.random.default_rng(0)
    print(f"Machine: {machine()}; NumPy {np.__version__}.\n")
    print("| rows | D | vectors in memory | match 1 query | match 8 queries | load (open + verify) |")
    print("|---|---|---|---|---|---|")
    for d in (128, 512):
        for rows in (1_000, 10_000, 100_000, 1_000_000):
            vectors = unit(rng, rows, d)
            ids = np.repeat(np.arange(rows // SAMPLES_PER_ID, dtype=np.int32), SAMPLES_PER_ID)
            k = rows // SAMPLES_PER_ID
            q1, q8 = unit(rng, 1, d), unit(rng, 8, d)
            repeats = 50 if rows <= 100_000 else 10
            t1 = median_ms(lambda: per_identity_scores(vectors, ids, k, q1), repeats)
            t8 = median_ms(lambda: per_identity_scores(vectors, ids, k, q8), repeats)
            load = "-"
            if rows <= 100_000:
                with tempfile.TemporaryDirectory() as tmp:
                    when = now()
                    reg = Registry(path=Path(tmp), model={"name": "bench", "dim": d, "sha256": ""},
                                   identities=[{"name": f"p{i}", "created": when, "updated": when} for i in range(k)],
                                   samples=[{"identity": int(i), "id": uuid.uuid4().hex, "time": when, "source": "bench"}
                                            for i in ids], vectors=vectors)
                    reg.save()
                    load = f"{median_ms(lambda: Registry.open(tmp), 3):.0f} ms"
            print(f"| {rows:,} | {d} | {vectors.nbytes / 2**20:,.0f} MiB | {t1:.2f} ms | {t8:.2f} ms | {load} |", flush=True)


if __name__ == "__main__":
    main()
