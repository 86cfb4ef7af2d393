"""FaceCam: the library in one object, for Python programs. The same models, registry and rules
as the `facecam` commands (registry transactions, the main face of a photo, the calibrated score).

    from facecam import FaceCam
    cam = FaceCam(registry="people")
    cam.enrol("Alice", ["alice1.jpg", "alice2.jpg"])
    for who in cam.recognize("group.jpg"):
        print(who.name or "unknown", who.score, who.face.box)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .types import Detection


@dataclass(frozen=True)
class Identified:
    """A face found in an image and who it is: name None for unknown (below the threshold);
    score on the calibrated scale of the embedder (cosine: the raw similarity); best_name the
    closest enrolled person even when below the threshold."""

    face: Detection
    name: str | None
    score: float
    cosine: float
    best_name: str | None


@dataclass(frozen=True)
class Enrolled:
    name: str
    added: int
    total: int
    skipped: list  # {"image", "reason"}: photos without a clear main face, or unreadable


class FaceCam:
    """registry: the registry folder (created on the first enrolment). detector: a detector, or
    its weights (catalog name or file; None: the default). embedder: an embedder or a model name
    (None: the registry's own model, else the default). threshold: the match score (None: the
    model's default, 0.8 for the built-in models). history: the sightings' database (a SQLite
    file or a postgresql:// URL; None: history.sqlite in the registry folder), erased from by
    forget(). Images are BGR uint8 arrays or file paths."""

    def __init__(self, registry: str | Path = "registry", *, detector=None, embedder=None,
                 threshold: float | None = None, device: str = "auto", detect_threshold: float = 0.6,
                 max_size: int | None = 640, history: str | Path | None = None):
        from .models import load_embedder, retinaface
        from .registry import stored_model

        self.path = Path(registry)
        self.history = str(history) if history is not None else None
        if detector is None or isinstance(detector, (str, Path)):
            detector = retinaface.load(None if detector is None else str(detector), device=device,
                                       threshold=detect_threshold, max_size=max_size)
        if embedder is None or isinstance(embedder, (str, Path)):
            stored = stored_model(self.path) if embedder is None else None
            embedder = load_embedder(str(embedder) if embedder else (stored or {}).get("name"), device=device)
        self.detector, self.embedder = detector, embedder
        self.threshold = embedder.default_threshold if threshold is None else threshold

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
        from . import enrol
        from .errors import UsageError
        from .validate import person_name

        name = person_name(name)
        samples, skipped = enrol.photo_samples([Path(p) for p in photos], self.detector, self.embedder,
                                               keep_crops=keep_crops)
        if not samples:
            raise UsageError(f"{name}: no photo with a clear main face; nothing saved")
        counts = enrol.save(self.path, self.embedder, {name: samples}, add=not replace, replace=replace, force=force,
                            threshold=self.threshold)
        return Enrolled(name=name, added=len(samples), total=counts[name], skipped=skipped)

    def recognize(self, image) -> list[Identified]:
        """Every face of the image with who it is, best detection first."""
        from .registry import Registry

        image = _image(image)
        faces = self.detector.detect(image)
        registry = Registry.open(self.path, model=self.embedder.model_info, create=True)
        matches = registry.match(self.embedder.embed(image, faces), self.embedder.min_cosine(self.threshold)) if faces else []
        return [Identified(face=f, name=m.name, score=self.embedder.score(m.cosine), cosine=m.cosine, best_name=m.best_name)
                for f, m in zip(faces, matches)]

    def people(self) -> list[dict]:
        """Everyone enrolled: name, samples, poses, created, updated, model."""
        from .registry import Registry

        return Registry.open(self.path, model=self.embedder.model_info, create=True).people()

    def forget(self, name: str) -> int:
        """Erase a person: their sightings and faces in the history (when there is one), then
        their samples and face crops; returns how many samples."""
        from .history import FILE_NAME, open_existing
        from .registry import Registry, transaction

        Registry.open(self.path).index_of(name)  # unknown names fail before anything is erased
        store = open_existing(self.history or self.path / FILE_NAME, chosen=self.history is not None)
        if store is not None:
            try:
                store.erase(name)
            finally:
                store.close()
        with transaction(self.path) as reg:
            return reg.remove(name)


def _image(image) -> np.ndarray:
    from .images import read_image

    return read_image(image) if isinstance(image, (str, Path)) else image
