"""FaceCam: the library in one object, for Python programs. The same models, registry, use cases
and rules as the `facecam` commands (registry transactions, the main face of a photo, the
calibrated score).

    from facecam import FaceCam
    cam = FaceCam(registry="people")
    cam.enrol("Alice", ["alice1.jpg", "alice2.jpg"])
    for who in cam.recognize("group.jpg"):
        print(who.name or "unknown", who.score, who.face.box)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .services.people import Enrolled, Identified, People
from .types import Detection

__all__ = ["Enrolled", "FaceCam", "Identified"]


class FaceCam:
    """registry: the registry folder (created on the first enrolment), or a postgresql:// URL. detector: a detector, or
    its weights (catalog name or file; None: the default). embedder: an embedder or a model name
    (None: the registry's own model, else the default). threshold: the match score (None: the
    model's default, 0.8 for the built-in models). history: the sightings' database (a SQLite
    file or a postgresql:// URL; None: history.sqlite in the registry folder), erased from by
    forget(). Images are BGR uint8 arrays or file paths. The registry is read once and re-read
    only when it changed."""

    def __init__(self, registry: str | Path = "registry", *, detector=None, embedder=None,
                 threshold: float | None = None, device: str = "auto", detect_threshold: float = 0.6,
                 max_size: int | None = 640, history: str | Path | None = None):
        from .history import Place
        from .models import load_embedder, retinaface
        from .registry import place, stored_model

        self.path = place(registry)
        if detector is None or isinstance(detector, (str, Path)):
            detector = retinaface.load(None if detector is None else str(detector), device=device,
                                       threshold=detect_threshold, max_size=max_size)
        if embedder is None or isinstance(embedder, (str, Path)):
            stored = stored_model(self.path) if embedder is None else None
            embedder = load_embedder(str(embedder) if embedder else (stored or {}).get("name"), device=device)
        self.detector, self.embedder = detector, embedder
        self._people = People(self.path, embedder, threshold=threshold, history=Place.of(history, self.path))
        self.threshold = self._people.threshold

    def detect(self, image) -> list[Detection]:
        """Faces (box, score, 5 landmarks), best score first."""
        return self.detector.detect(_image(image))

    def embed(self, image, faces: list[Detection] | None = None) -> np.ndarray:
        """L2-normalised float32 vectors (N, dim), one per face (default: every face detected)."""
        image = _image(image)
        return self.embedder.embed(image, self.detector.detect(image) if faces is None else faces)

    def enrol(self, name: str, photos, *, replace: bool = False, force: bool = False,
              keep_crops: bool = True) -> Enrolled:
        """Enrol `name` from photos (paths), one sample per photo's main face; adds to a person
        enrolled already unless replace. A face that matches someone else needs force."""
        return self._people.enrol_photos(name, [Path(p) for p in photos], self.detector, add=not replace,
                                         replace=replace, force=force, keep_crops=keep_crops)

    def recognize(self, image) -> list[Identified]:
        """Every face of the image with who it is, best detection first."""
        return self._people.recognise(_image(image), self.detector)

    def people(self) -> list[dict]:
        """Everyone enrolled: name, samples, poses, created, updated, model."""
        return self._people.registry().people()

    def forget(self, name: str) -> int:
        """Erase a person: their sightings and faces in the history (when there is one), then
        their samples and face crops; returns how many samples."""
        return self._people.delete(name).samples


def _image(image) -> np.ndarray:
    from .images import read_image

    return read_image(image) if isinstance(image, (str, Path)) else image
