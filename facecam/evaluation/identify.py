"""Open-set identification over identity sub-folders: enrolled people must be named, strangers not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..calibration import threshold_for_far
from ..errors import UsageError
from .common import Progress, central_vectors, no_progress


@dataclass(frozen=True)
class IdentifyResult:
    """Rates are shares (0-1) of the probes or strangers; thresholds on the model's score scale."""

    model: str
    gallery: int
    enrolled: int
    probes: int
    strangers: int
    no_face: int
    rank1: float
    threshold: float
    threshold_cosine: float
    tar: float  # probes named rightly at the model threshold
    wrong_names: int
    stranger_far: float | None  # strangers given a name at the model threshold
    threshold_at_far_1e_2: float | None = None  # the threshold that names 1% of strangers ...
    tar_at_far_1e_2: float | None = None  # ... and the probes named rightly there

    def to_json(self) -> dict:
        out = {k.replace("_1e_", "_1e-"): v for k, v in self.__dict__.items()}
        return {k: v for k, v in out.items() if v is not None or k == "stranger_far"}


def _embed_folders(root: Path, gallery: int, detector, embedder, progress: Progress):
    """(enrolled {name: vectors}, probes [(name, vector or None)], stranger vectors, no-face problems)."""
    from ..images import list_images

    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not folders:
        raise UsageError(f"{root}: no identity sub-folders")
    enrolled, probes, strangers, no_face = {}, [], [], []
    listed = {folder: list_images([folder]) for folder in folders}
    every = [photo for photos in listed.values() for photo in photos]
    found = dict(zip(every, central_vectors(every, detector, embedder, progress)))

    def vector(path):
        v, problem = found[path]
        if v is None:
            no_face.append(problem)
        return v

    for folder in folders:
        photos = listed[folder]
        gallery_vectors = [v for v in map(vector, photos[:gallery]) if v is not None] if len(photos) > gallery else []
        if gallery_vectors:
            enrolled[folder.name] = np.stack(gallery_vectors)
            probes += [(folder.name, vector(p)) for p in photos[gallery:]]
        else:
            strangers += [v for v in map(vector, photos) if v is not None]
    return enrolled, probes, strangers, no_face


def identify(root: str | Path, detector, embedder, *, gallery: int = 1, progress: Progress = no_progress) -> IdentifyResult:
    """The first `gallery` photos of each identity with more are enrolled, the rest probe; the
    identities with fewer photos are strangers. Rank-1, true accepts at the model threshold (and
    wrong names), strangers accepted, and the threshold that accepts 1% of strangers."""
    from ..registry import Registry

    if gallery < 1:
        raise UsageError("must be 1 or more", param="gallery")
    root = Path(root)
    enrolled, probes, strangers, no_face = _embed_folders(root, gallery, detector, embedder, progress)
    if not enrolled or not probes:
        raise UsageError(f"{root}: no identity has more than {gallery} photos with a face")
    reg = Registry(path=root, model=embedder.model_info)
    for name, vectors in enrolled.items():
        reg.add(name, vectors, [{"source": "gallery"}] * len(vectors))
    min_cosine = embedder.min_cosine()
    known = [(t, v) for t, v in probes if v is not None]
    matches = reg.match(np.stack([v for _, v in known]), min_cosine) if known else []
    truth = [t for t, _ in known]
    stranger_cosines = np.array([m.cosine for m in reg.match(np.stack(strangers), min_cosine)]) if strangers else None
    extra = {}
    if stranger_cosines is not None:
        t1 = threshold_for_far(stranger_cosines, 0.01)
        extra = {"threshold_at_far_1e_2": round(embedder.scale.score(t1), 4),
                 "tar_at_far_1e_2": round(sum(m.best_name == t and m.cosine >= t1 for m, t in zip(matches, truth))
                                          / len(probes), 5)}
    return IdentifyResult(
        model=embedder.name, gallery=gallery, enrolled=len(enrolled), probes=len(probes), strangers=len(strangers),
        no_face=len(no_face), rank1=round(sum(m.best_name == t for m, t in zip(matches, truth)) / len(probes), 5),
        threshold=embedder.default_threshold, threshold_cosine=round(min_cosine, 4),
        tar=round(sum(m.name == t for m, t in zip(matches, truth)) / len(probes), 5),
        wrong_names=sum(m.name not in (None, t) for m, t in zip(matches, truth)),
        stranger_far=None if stranger_cosines is None else round(float(np.mean(stranger_cosines >= min_cosine)), 5),
        **extra)
