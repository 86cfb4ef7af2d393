"""Moving people between registries: one .npz export file (vectors, ids and the JSON document; no
crops, no pickle), and its import, which trusts nothing in the file: the document is checked
against the schema, every identity index against the people listed, and facecam makes each
sample's id anew (so no path is ever taken from the file)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ConflictError
from ..storage import atomic_write
from ..validate import shorten
from .document import FORMAT, Invalid, RegistryError, check_export
from .store import Registry, transaction

KEPT = ("time", "source", "frame", "pose", "quality", "yaw", "pitch", "sharpness", "frame_time", "negative")  # no crop: not exported


def export(reg: Registry, file: str | Path) -> None:
    identities = [{k: ident[k] for k in ("name", "created", "updated")} for ident in reg.identities]
    doc = {"format": FORMAT, "model": reg.model, "identities": identities,
           "samples": [{k: v for k, v in s.items() if k in KEPT} for s in reg.samples]}
    buffer = io.BytesIO()
    np.savez(buffer, vectors=reg.vectors, ids=reg.ids, document=np.frombuffer(json.dumps(doc).encode(), np.uint8))
    with atomic_write(file) as f:
        f.write(buffer.getvalue())


def read_export(file: str | Path) -> tuple[dict, np.ndarray, np.ndarray]:
    """(document, vectors (N, D) float32, ids (N,) int), checked to fit each other."""
    try:
        with np.load(file, allow_pickle=False) as z:
            doc = check_export(json.loads(z["document"].tobytes().decode()))
            vectors, ids = z["vectors"], z["ids"]
    except Invalid as err:
        raise RegistryError(f"{file}: not a valid facecam export ({err})") from None
    except (OSError, ValueError, KeyError, EOFError, RecursionError, zipfile.BadZipFile) as err:
        raise RegistryError(f"{file}: not a facecam registry export ({type(err).__name__})") from None
    count, dim = len(doc["samples"]), doc["model"]["dim"]
    if (vectors.dtype.kind != "f" or vectors.shape != (count, dim) or ids.dtype.kind not in "iu"
            or ids.shape != (count,)):
        raise RegistryError(f"{file}: its arrays do not match its {count} samples")
    people = len(doc["identities"])
    if count and (ids.min() < 0 or ids.max() >= people):
        raise RegistryError(f"{file}: sample ids out of range (it lists {people} people)")
    empty = sorted(set(range(people)) - set(ids.tolist()))
    if empty:
        raise RegistryError(f"{file}: {shorten(doc['identities'][empty[0]]['name'])} has no sample")
    return doc, vectors.astype(np.float32), ids.astype(np.int64)


def import_people(reg: Registry, doc: dict, vectors: np.ndarray, ids: np.ndarray) -> list[str]:
    """Add an export's people to `reg` (inside a transaction); a name enrolled in both is refused.
    Returns the names added."""
    names = [ident["name"] for ident in doc["identities"]]
    clash = sorted(set(reg.names()) & set(names))
    if clash:
        raise ConflictError(f"{shorten(clash[0])} is enrolled already in {reg.path}; rename or delete one first")
    for k, name in enumerate(names):
        rows = np.flatnonzero(ids == k)
        reg.add(name, vectors[rows], [{key: doc["samples"][r][key] for key in KEPT if key in doc["samples"][r]}
                                      for r in rows])
    return names


def copy(source: Registry, target) -> Registry:
    """Every person of `source` into the registry at `target` (a folder or a postgresql:// URL),
    which must hold nobody: the same samples (vectors, metadata, kept face crops), the same model,
    the same dates. The copy is read back and compared with the source (names, each person's
    vectors bit for bit, negative samples, crops, model): a difference is an error. Returns it."""
    import cv2

    with transaction(target, model=source.model, create=True) as reg:
        if reg.identities:
            raise ConflictError(f"{reg.path}: {len(reg.identities)} people enrolled there already; copy into an "
                                "empty registry (or export and import to merge)")
        for i, ident in enumerate(source.identities):
            rows = [k for k, s in enumerate(source.samples) if s["identity"] == i]
            crops = []
            for k in rows:
                data = source.crop_bytes(source.samples[k])
                crops.append(None if data is None else cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
            reg.add(ident["name"], source.vectors[rows],
                    [{key: v for key, v in source.samples[k].items() if key not in ("identity", "id", "crop")} for k in rows],
                    crops)
            reg.identities[-1].update(created=ident["created"], updated=ident["updated"])
    copied = Registry.open(target, model=source.model)
    _same(source, copied)
    return copied


def _same(source: Registry, copied: Registry) -> None:
    def person(reg, i):
        rows = reg.ids == i
        samples = [s for s in reg.samples if s["identity"] == i]
        return (reg.vectors[rows].tobytes(), [bool(s.get("negative")) for s in samples],
                [bool(s.get("crop")) for s in samples])

    problem = None
    if copied.model != source.model:
        problem = "the model differs"
    elif copied.names() != source.names():
        problem = "the people differ"
    else:
        for i, name in enumerate(source.names()):
            if person(source, i) != person(copied, i):
                problem = f"the samples of {shorten(name)} differ"
                break
    if problem:
        raise RegistryError(f"{copied.path}: the copy does not match {source.path}: {problem}")
