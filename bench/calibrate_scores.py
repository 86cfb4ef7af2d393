"""Fit each built-in embedder's score scale on the shared LFW identities and write it to the catalog.

Every image of the shared LFW subset (the face nearest the centre) is embedded; all pairs of
different people are the impostor pairs (about 1.5 million). `facecam calibrate --json` fits the
knots: the cosine that 10%, 1%, 0.1%, 0.01% and 0.001% of impostor pairs reach becomes score 0.4,
0.5, 0.6, 0.7 and 0.8 (facecam/calibration.py). The default threshold of every calibrated model is
0.8.

    .ci/setup && .venv/bin/python bench/calibrate_scores.py [--write]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine  # noqa: E402

CATALOG = Path(__file__).resolve().parents[1] / "pretrained" / "catalog.json"


def calibrate(model: str) -> dict:
    with tempfile.TemporaryDirectory() as empty:
        out = subprocess.run(
            [sys.executable, "-m", "facecam", "calibrate", "--folder", data_dir() / "recognition" / "lfw",
             "--model", model, "--registry", empty, "--far", "1e-5", "--json"],
            capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    catalog = json.loads(CATALOG.read_text())
    print(f"Machine: {machine()}.\n")
    print("| model | samples | impostor pairs | score 0.4 | 0.5 | 0.6 | 0.7 | 0.8 (default) | 1.0 | same-person pairs at 0.8 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for entry in catalog["models"]:
        if entry["kind"] != "embedder":
            continue
        result = calibrate(entry["name"])
        knots = result["score_knots"]
        cosines = {score: cosine for cosine, score in knots}
        print(f"| {entry['name']} | {result['samples']} | {result['impostor_pairs']} | "
              + " | ".join(f"{cosines[s]:.4f}" for s in (0.4, 0.5, 0.6, 0.7, 0.8, 1.0))
              + f" | {result['tar']:.2%} |", flush=True)
        entry["score_knots"] = knots
        entry["threshold"] = 0.8
    if "--write" in sys.argv:
        CATALOG.write_text(json.dumps(catalog, indent=2) + "\n")


if __name__ == "__main__":
    main()
