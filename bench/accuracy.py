"""Every accuracy table of docs/benchmarks.md in one run: the score scale's calibration, recognition
next to face_recognition (LFW pairs, LFW and East-Asian identification) and WIDER FACE detection AP.

    .ci/setup bench && .venv/bin/python bench/accuracy.py > accuracy.md
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calibrate_scores  # noqa: E402
import detection_accuracy  # noqa: E402
import embedding_accuracy  # noqa: E402

if __name__ == "__main__":
    for title, module in (("Score scale", calibrate_scores), ("Recognition", embedding_accuracy),
                          ("Detection", detection_accuracy)):
        print(f"\n### {title}\n", flush=True)
        module.main()
