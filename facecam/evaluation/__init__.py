"""Measuring facecam on labelled data: verification on a pairs file, open-set identification,
score calibration and WIDER FACE detection scoring. Each protocol is one function that returns
a plain dataclass (its `to_json()` is what `facecam eval ... --json` prints)."""

from .calibrate import CalibrationResult, calibrate
from .detection import DetectionResult, evaluate_detection, write_wider_result
from .identify import IdentifyResult, identify
from .pairs import PairsResult, image_path, read_pairs, verify_pairs

__all__ = ["CalibrationResult", "DetectionResult", "IdentifyResult", "PairsResult", "calibrate", "evaluate_detection",
           "identify", "image_path", "read_pairs", "verify_pairs", "write_wider_result"]
