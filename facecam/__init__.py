"""facecam: enrol people in front of a camera and recognise them live.

Library use (models load on first use, never at import):

    import cv2, facecam
    faces = facecam.detect(cv2.imread("photo.jpg"))   # BGR uint8 HxWx3 -> list[Detection]

    from facecam import FaceCam                       # detection, enrolment, recognition
    cam = FaceCam(registry="people")
"""

from __future__ import annotations

from .version import __version__  # noqa: F401 (facecam.__version__)

__all__ = ["FaceCam", "detect"]

_default_detector = None


def detect(image_bgr, **kwargs):
    """Faces in a BGR uint8 image with the default detector: list of Detection (box, score, landmarks)."""
    global _default_detector
    if _default_detector is None:
        from .models import retinaface

        _default_detector = retinaface.load()
    return _default_detector.detect(image_bgr, **kwargs)


def __getattr__(name: str):
    if name == "FaceCam":  # imported on first use: `import facecam` stays light
        from .api import FaceCam

        return FaceCam
    raise AttributeError(f"module 'facecam' has no attribute {name!r}")
