"""The use cases over the enrolled people, written once for the commands, the HTTP API and
FaceCam: enrol (from samples or from photos), recognise the faces of an image, list, rename, and
erase a person (their sightings first, then their samples)."""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import enrol
from ..errors import InputError, NotFoundError
from ..history import History, Place, iso
from ..registry import Registry, place, transaction
from ..types import Detection, Sample
from ..validate import person_name, shorten


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


@dataclass(frozen=True)
class Erased:
    name: str
    samples: int  # taken from the registry (and its backup)
    sightings: int  # taken from the history, with their faces


class People:
    """The registry in `registry` (re-read only when it changed, by this process or another) with
    the history of the people it names. embedder: the model its vectors are by (None for what
    needs none: renaming, erasing, listing); threshold: the match score (None: the model's);
    history: an open History (the caller's to close), a history.Place opened for each use, or
    None."""

    def __init__(self, registry: str | Path, embedder=None, *, threshold: float | None = None,
                 history: History | Place | None = None):
        self.path, self.embedder, self.history = place(registry), embedder, history
        self.threshold = threshold if threshold is not None or embedder is None else embedder.default_threshold
        self._registry: Registry | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> dict | None:
        return None if self.embedder is None else self.embedder.model_info

    def registry(self) -> Registry:
        """The registry as saved now; an empty one of the embedder's model when there is none yet."""
        with self._lock:
            if self._registry is None:
                self._registry = Registry.open(self.path, model=self.model, create=self.model is not None)
            else:
                self._registry = self._registry.reload()
            return self._registry

    def together(self):
        """One transaction for a change to both the registry and the history when they share a
        PostgreSQL database (they commit together or not at all); elsewhere each keeps its own."""
        from ..registry.postgres import together

        return together(self.path) if isinstance(self.path, str) else nullcontext()

    @contextmanager
    def opened_history(self):
        """The history for one use case: the open one, a Place opened (and closed) for it, or None
        when none was ever kept."""
        if not isinstance(self.history, Place):
            yield self.history
            return
        store = self.history.existing()
        try:
            yield store
        finally:
            if store is not None:
                store.close()

    # --- enrolling

    def enrol(self, enrolled: dict[str, list[Sample]], *, add: bool = False, replace: bool = False,
              force: bool = False, negatives: dict[str, list[Sample]] | None = None, can_replace: bool = True,
              warn=lambda message: None) -> dict[str, int]:
        """{name: samples} enrolled in one registry transaction; returns {name: samples in all}. A
        name enrolled already needs add (or replace), a face that matches someone else force
        (enrol.save: nothing is saved otherwise)."""
        return enrol.save(self.path, self.embedder, enrolled, add=add, replace=replace, force=force,
                          threshold=self.threshold, warn=warn, negatives=negatives, can_replace=can_replace)

    def enrol_photos(self, name: str, photos, detector, *, add: bool = True, replace: bool = False, force: bool = False,
                     keep_crops: bool = True, progress=lambda done, total: None) -> Enrolled:
        """`name` enrolled from photos (files, or (origin, BGR image)): one sample per photo's
        main face; the others are skipped, with the reason."""
        name = person_name(name)
        samples, skipped = enrol.photo_samples(list(photos), detector, self.embedder, keep_crops=keep_crops,
                                               progress=progress)
        if not samples:
            reasons = "; ".join(f"{s['image']}: {s['reason']}" for s in skipped[:3])
            more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
            raise InputError(f"{shorten(name)[1:-1]}: no photo with a clear main face ({reasons}{more}); nothing saved")
        counts = self.enrol({name: samples}, add=add and not replace, replace=replace, force=force)
        return Enrolled(name=name, added=len(samples), total=counts[name], skipped=skipped)

    # --- recognising

    def recognise(self, image: np.ndarray, detector) -> list[Identified]:
        """Every face of a BGR image with who it is, best detection first."""
        faces = detector.detect(image)
        if not faces:
            return []
        matches = self.registry().match(self.embedder.embed(image, faces), self.embedder.min_cosine(self.threshold))
        return [Identified(face=f, name=m.name, score=self.embedder.score(m.cosine), cosine=m.cosine,
                           best_name=m.best_name) for f, m in zip(faces, matches)]

    # --- listing, renaming, erasing

    def listing(self) -> list[dict]:
        """Everyone enrolled (Registry.people), with "sightings" and "last_seen" (ISO UTC) from
        the history (None without one)."""
        with self.opened_history() as store:
            seen = store.seen() if store is not None else None
        out = []
        for person in self.registry().people():
            count, last = (seen or {}).get(person["name"], (0, None))
            out.append({**person, "sightings": None if seen is None else count,
                        "last_seen": None if last is None else iso(last)})
        return out

    def rename(self, old: str, new: str) -> int:
        """Rename an enrolled person, then their sightings; returns how many sightings moved."""
        new = person_name(new)
        self.registry().index_of(old)  # nobody by that name (or nobody enrolled yet): NotFoundError, before any lock
        if new == old:
            return 0
        with self.opened_history() as store, self.together():
            with transaction(self.path, model=self.model) as reg:
                reg.rename(old, new)
            return store.rename(old, new) if store is not None else 0

    def erasure(self, name: str) -> tuple[int | None, int]:
        """What delete(name) would erase: (their samples, None when they are not enrolled; their
        sightings). NotFoundError when there is neither."""
        with self.opened_history() as store:
            sightings = store.count(name=name) if store is not None else 0
        try:
            return self.registry().count(name), sightings
        except NotFoundError:
            if not sightings:
                raise
            return None, sightings

    def delete(self, name: str) -> Erased:
        """Erase a person: their sightings and faces from the history first (a failure there
        leaves the enrolment, so it can be tried again), then their samples, vectors and face
        crops from the registry and its backup. A name no longer enrolled that the history still
        holds has its sightings erased."""
        enrolled = name in self.registry().names()
        with self.opened_history() as store, self.together():
            if not enrolled and not (store is not None and store.count(name=name)):
                self.registry().index_of(name)  # the registry's own "no one named ..." error
            erased = store.erase(name) if store is not None else 0
            removed = 0
            if enrolled:
                with transaction(self.path, model=self.model) as reg:
                    removed = reg.remove(name)
        return Erased(name=name, samples=removed, sightings=erased)
