"""The registry of enrolled people: NumPy vectors and ids that are never lost or corrupted.

On disk (a folder, `registry/` by default; the format is described in registry/README.md):

    registry.json          the commit point: model, identities, samples, array file names + sha256
    registry.json.bak      the previous generation's registry.json (for `facecam registry restore`)
    vectors.<G>.npy        float32 (N, D), L2-normalised, one row per sample, rows grouped by identity
    ids.<G>.npy            int32 (N,), the identity index of each row
    crops/<sample>.png     the aligned face crop of each sample (optional; for re-embedding)
    registry.json.lock     held by every writer for its whole read-modify-write

A save writes the arrays of a new generation G under new names, fsyncs them, then replaces
registry.json atomically. A crash at any moment leaves either the old or the new registry.json,
and both point at array files that exist and match their checksums. The generation before the
current one is kept, and registry.json.bak points at it, except after a person was removed:
their data is erased from the backup too. Every load checks the document against its schema
and checksum (document.py) and the arrays against theirs; files that no document refers to
(arrays and crops of a save that did not commit) are removed by the next save.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConflictError, NotFoundError, Remedy, UsageError
from ..storage import atomic_write, locked, sha256_file
from ..validate import person_name, shorten
from ..words import counted
from . import postgres
from .document import FORMAT, Invalid, RegistryError, array_name, check_document, check_model, checksum, crop_path

INDEX = "registry.json"
BACKUP = "registry.json.bak"
CROP_FILE = re.compile(r"[0-9a-f]{32}\.png")
RESTORE = Remedy("to go back to the previous generation", command="registry restore")
REGISTRY_ELSEWHERE = Remedy("says where it is", "registry", "DIR")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def default_path() -> Path | str:
    """FACECAM_REGISTRY, else registry/ in the working directory."""
    return place(os.environ.get("FACECAM_REGISTRY", "registry"))


def place(target) -> Path | str:
    """Where a registry is: a folder (a Path), or a postgresql:// URL (kept as the string)."""
    text = str(target)
    return text if postgres.is_url(text) else Path(target)


@dataclass(frozen=True)
class Match:
    """The best identity for one query vector; name None means unknown (below the threshold).
    The numbers are raw cosines (Embedder.score turns one into the calibrated score)."""

    name: str | None
    cosine: float  # of the best identity's closest sample; -inf when nobody is enrolled
    best_name: str | None  # the best identity even when it is below the threshold
    runner_up: str | None
    runner_up_cosine: float | None


@dataclass
class Registry:
    """An in-memory registry; `open` / `transaction` read it, `transaction` writes it back."""

    path: Path
    model: dict  # {"name", "dim", "sha256"}
    identities: list[dict] = field(default_factory=list)  # {"name", "created", "updated"}
    samples: list[dict] = field(default_factory=list)  # {"identity", "id", "time", "source", ...}
    vectors: np.ndarray = None
    generation: int = 0
    stamp: tuple | None = None  # (inode, mtime, size) of the registry.json read or written last
    changed: bool = False  # whether there is anything to save
    removed: bool = False  # someone was removed: the save erases them from the backup too
    reembedded: bool = False  # every vector was replaced (by another model's)

    def __post_init__(self):
        if self.vectors is None:
            self.vectors = np.zeros((0, int(self.model["dim"])), np.float32)

    # --- reading

    @classmethod
    def open(cls, path: str | Path, *, model: dict | None = None, create: bool = False) -> "Registry":
        """Load and verify the registry in `path`.

        model: the embedder about to be used ({"name", "dim", "sha256"}); a registry written by
        another model is refused. create: an absent registry is an empty one for `model`.
        """
        if postgres.is_url(str(path)):
            return PostgresRegistry.open_url(str(path), model=model, create=create)
        path = Path(path)
        index = path / INDEX
        if not index.is_file():
            if path.exists() and not path.is_dir():
                raise RegistryError(f"{path}: not a folder")
            if create and model is not None:
                return cls(path=path, model=dict(model))
            raise RegistryError(f"{path}: no registry here; enrol someone first", REGISTRY_ELSEWHERE)
        reg = cls._load(path, index)
        if model is not None:
            reg.check_model(model)
        return reg

    @classmethod
    def _load(cls, path: Path, index: Path) -> "Registry":
        try:
            stamp = _stamp(index)  # before reading: a change made meanwhile shows at the next reload
            doc = check_document(json.loads(index.read_bytes()))
            vectors, ids = (_read_array(path, doc, key) for key in ("vectors", "ids"))
            _check_arrays(vectors, ids, doc)
        except Invalid as err:
            raise RegistryError(f"{index}: {err}", RESTORE) from None
        except (OSError, ValueError, RecursionError) as err:
            raise RegistryError(f"{index}: unreadable ({type(err).__name__}: {err})", RESTORE) from None
        samples = doc["samples"]
        for sample, i in zip(samples, ids.tolist()):
            sample["identity"] = i
            if not isinstance(sample["time"], str):  # format 1: guided enrolment stored the frame's time there
                sample["frame_time"], sample["time"] = sample["time"], doc["identities"][i]["created"]
        return cls(path=path, model=doc["model"], identities=doc["identities"], samples=samples,
                   vectors=vectors, generation=doc["generation"], stamp=stamp)

    def reload(self) -> "Registry":
        """The registry as saved now, if registry.json was replaced since this one was read (a
        stat, no read: cheap enough for every frame or request); else this one. A newer registry
        that cannot be read is an error, as in open()."""
        try:
            stamp = _stamp(self.path / INDEX)
        except OSError:
            return self  # none saved yet: keep what we have
        if stamp == self.stamp:
            return self
        return Registry.open(self.path, model=self.model)

    def check_model(self, model: dict) -> None:
        mine = self.model
        if mine["name"] != model["name"] or int(mine["dim"]) != int(model["dim"]) or mine.get("sha256") != model.get("sha256"):
            theirs = shorten(mine["name"])[1:-1]
            raise RegistryError(
                f"{self.path}: enrolled with model {theirs} ({mine['dim']}-d), not {model['name']}: "
                f"vectors of different models cannot be compared", Remedy("uses its model", "model", theirs),
                Remedy(f"to rebuild it with {model['name']}", command=f"registry reembed --model {model['name']}"))

    @property
    def ids(self) -> np.ndarray:
        return np.array([s["identity"] for s in self.samples], dtype=np.int32)

    def names(self) -> list[str]:
        return [i["name"] for i in self.identities]

    def people(self) -> list[dict]:
        """Per person: name, samples, negatives (corrections), poses covered, created, updated, model."""
        out = []
        for i, ident in enumerate(self.identities):
            samples = [s for s in self.samples if s["identity"] == i and not s.get("negative")]
            negatives = sum(1 for s in self.samples if s["identity"] == i and s.get("negative"))
            out.append({"name": ident["name"], "samples": len(samples), "negatives": negatives,
                        "poses": sorted({s["pose"] for s in samples if s.get("pose")}),
                        "created": ident["created"], "updated": ident["updated"], "model": self.model["name"]})
        return out

    def thumbnail(self, name: str) -> bytes | None:
        """The PNG of one of the person's own faces: a frontal one if kept, the best detected
        otherwise; None when no sample kept its crop."""
        i = self.index_of(name)
        kept = [s for s in self.samples if s["identity"] == i and not s.get("negative") and s.get("crop")]
        for best in sorted(kept, key=lambda s: (s.get("pose") == "frontal", s.get("quality", 0.0)), reverse=True):
            data = self.crop_bytes(best)
            if data is not None:
                return data
        return None  # none kept, or removed by hand

    def crop_bytes(self, sample: dict) -> bytes | None:
        """The PNG of a sample's kept face crop (None when it kept none, or it is gone)."""
        if not sample.get("crop"):
            return None
        try:
            return (self.path / crop_path(sample["id"])).read_bytes()
        except OSError:
            return None

    def index_of(self, name: str) -> int:
        for i, ident in enumerate(self.identities):
            if ident["name"] == name:
                return i
        raise NotFoundError(f"no one named {shorten(name)} is enrolled in {self.path}")

    def count(self, name: str) -> int:
        """The samples of `name` (the faces of them, not the corrections)."""
        i = self.index_of(name)
        return sum(1 for s in self.samples if s["identity"] == i and not s.get("negative"))

    @property
    def negative(self) -> np.ndarray:
        """(N,) bool: the samples that are corrections, faces someone was wrongly taken for (by
        `facecam history correct --not-name`), not faces of them."""
        return np.array([bool(s.get("negative")) for s in self.samples], dtype=bool)

    # --- matching

    def match(self, queries: np.ndarray, min_cosine: float) -> list[Match]:
        """For each query vector (M, D): the best identity by its best sample's cosine, named when
        that reaches min_cosine (Embedder.min_cosine turns a score threshold into one) and beats
        the identity's negative samples: a face closer to a stranger someone was once wrongly
        taken for than to any of their own samples is not given their name.

        One matrix product for all queries; per identity the maximum over its samples.
        """
        queries = np.atleast_2d(np.asarray(queries, np.float32))
        if not len(self.identities) or not len(self.vectors):
            return [Match(None, float("-inf"), None, None, None) for _ in queries]
        k, ids, negative = len(self.identities), self.ids, self.negative
        products = queries @ self.vectors.T
        scores = best_per_identity(products[:, ~negative], ids[~negative], k)  # (M, K)
        vetoed = scores <= best_per_identity(products[:, negative], ids[negative], k) if negative.any() else None
        out = []
        for m, row in enumerate(scores):
            allowed = row if vetoed is None else np.where(vetoed[m], -np.inf, row)
            named = bool(allowed.max() >= min_cosine)
            best = int(np.argmax(allowed if named else row))
            rest = row.copy()
            rest[best] = -np.inf
            second = int(np.argmax(rest)) if np.isfinite(rest.max()) else None
            out.append(Match(
                name=self.identities[best]["name"] if named else None, cosine=float(row[best]),
                best_name=self.identities[best]["name"],
                runner_up=self.identities[second]["name"] if second is not None else None,
                runner_up_cosine=float(row[second]) if second is not None else None,
            ))
        return out

    # --- changing (inside a transaction)

    def add(self, name: str, vectors: np.ndarray, metadata: list[dict], crops: list | None = None) -> None:
        """Append samples of `name` (enrolled if new). vectors (n, D) L2-normalised; metadata: one
        dict per vector (its "id" and "crop" are facecam's to set)."""
        name = person_name(name)
        vectors = np.asarray(vectors, np.float32).reshape(-1, int(self.model["dim"]))
        if len(metadata) != len(vectors) or not len(vectors):
            raise RegistryError(f"{shorten(name)}: one or more samples, each with its metadata, are needed")
        if not np.all(np.isfinite(vectors)) or not np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3):
            raise RegistryError(f"{shorten(name)}: sample vectors must be finite and L2-normalised")
        try:
            i = self.index_of(name)
            self.identities[i]["updated"] = now()
        except UsageError:
            if all(meta.get("negative") for meta in metadata):
                raise NotFoundError(f"no one named {shorten(name)} is enrolled in {self.path}") from None
            self.identities.append({"name": name, "created": now(), "updated": now()})
            i = len(self.identities) - 1
        for k, meta in enumerate(metadata):
            sample = {"time": now(), **{key: v for key, v in meta.items() if key not in ("id", "crop")},
                      "identity": i, "id": uuid.uuid4().hex}
            if crops is not None and crops[k] is not None:
                sample["crop"] = self._write_crop(sample["id"], crops[k])
            self.samples.append(sample)
        self.vectors = np.concatenate([self.vectors, vectors])
        self.changed = True

    def remove(self, name: str) -> int:
        i = self.index_of(name)
        keep = [k for k, s in enumerate(self.samples) if s["identity"] != i]
        removed = len(self.samples) - len(keep)
        self.samples = [self.samples[k] for k in keep]
        self.vectors = self.vectors[keep]
        del self.identities[i]
        for s in self.samples:
            if s["identity"] > i:
                s["identity"] -= 1
        self.changed = self.removed = True  # their crops go once the save has committed (see save)
        return removed

    def rename(self, old: str, new: str) -> None:
        new = person_name(new)
        i = self.index_of(old)
        if new == old:
            return  # nothing to save: the backup generation stays as it is
        if new in self.names():
            raise ConflictError(f"{shorten(new)} is enrolled already")
        self.identities[i]["name"] = new
        self.identities[i]["updated"] = now()
        self.changed = True

    def _write_crop(self, sample_id: str, crop_bgr: np.ndarray) -> str:
        import cv2

        rel = crop_path(sample_id)
        ok, data = cv2.imencode(".png", crop_bgr)
        if ok:
            with atomic_write(self.path / rel) as f:
                f.write(data.tobytes())
        return rel

    # --- writing

    def save(self) -> None:
        """Write a new generation (call inside `transaction`, which holds the lock)."""
        self.path.mkdir(parents=True, exist_ok=True)
        order = np.argsort(self.ids, kind="stable")  # rows grouped by identity, for matching
        self.samples = [self.samples[k] for k in order]
        self.vectors = np.ascontiguousarray(self.vectors[order], dtype=np.float32)
        gen = self.generation + 1
        files = {}
        for key, array in (("vectors", self.vectors), ("ids", self.ids)):
            name = array_name(key, gen)
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            data = buffer.getvalue()
            with atomic_write(self.path / name) as f:
                f.write(data)
            files[key] = {"name": name, "sha256": hashlib.sha256(data).hexdigest()}
        samples = [{k: v for k, v in s.items() if k != "identity"} for s in self.samples]
        doc = {"format": FORMAT, "generation": gen, "model": self.model, "identities": self.identities,
               "samples": samples, "files": files}
        doc["checksum"] = checksum(doc)
        text = json.dumps(doc, indent=1, allow_nan=False)
        index = self.path / INDEX
        if index.is_file():
            with atomic_write(self.path / BACKUP) as f:
                f.write(index.read_bytes())
        with atomic_write(index, "w") as f:
            f.write(text)
        if self.removed:  # erase the removed people from the previous generation too
            with atomic_write(self.path / BACKUP, "w") as f:
                f.write(text)
        self.generation, self.stamp, self.changed, self.removed = gen, _stamp(index), False, False


def collect(path: Path) -> None:
    """Delete what neither registry.json nor its backup refers to: other generations' arrays, crops
    of removed samples or of saves that did not commit, temporary files of a killed writer. Only
    file names facecam makes are touched."""
    current = _document_or_none(path / INDEX)
    if current is None:
        return  # no registry, or a damaged one: delete nothing (restore, or a fix by hand, may need any file)
    referenced, keep = set(), set()
    for doc in (current, _document_or_none(path / BACKUP)):
        if doc is not None:
            keep |= {doc["files"]["vectors"]["name"], doc["files"]["ids"]["name"]}
            referenced |= {crop_path(s["id"]) for s in doc["samples"] if "crop" in s}
    for file in path.glob("*.npy"):
        if re.fullmatch(r"(vectors|ids)\.\d+\.npy", file.name) and file.name not in keep:
            file.unlink(missing_ok=True)
    crops = path / "crops"
    if crops.is_dir():
        for file in crops.iterdir():
            if CROP_FILE.fullmatch(file.name) and f"crops/{file.name}" not in referenced:
                file.unlink(missing_ok=True)
    for tmp in [*path.glob(".*.tmp"), *crops.glob(".*.tmp")]:
        tmp.unlink(missing_ok=True)


def _document_or_none(index: Path) -> dict | None:
    try:
        return check_document(json.loads(index.read_bytes()))
    except (OSError, ValueError, RecursionError):
        return None


def _read_array(path: Path, doc: dict, key: str) -> np.ndarray:
    entry = doc["files"][key]
    file = path / entry["name"]  # checked by the schema to be <key>.<generation>.npy
    if not file.is_file() or sha256_file(file) != entry["sha256"]:
        raise RegistryError(f"{file}: missing or damaged (checksum mismatch)", RESTORE)
    return np.load(file, allow_pickle=False)


def _check_arrays(vectors: np.ndarray, ids: np.ndarray, doc: dict) -> None:
    count, dim = len(doc["samples"]), doc["model"]["dim"]
    if vectors.dtype != np.float32 or vectors.shape != (count, dim) or ids.dtype != np.int32 or ids.shape != (count,):
        raise Invalid("the arrays do not match the sample list")
    if len(ids) and (ids.min() < 0 or ids.max() >= len(doc["identities"])):
        raise Invalid("sample ids out of range")
    faces = [i for i, s in zip(ids.tolist(), doc["samples"]) if not s.get("negative")]
    if len(set(faces)) != len(doc["identities"]):
        raise Invalid("someone enrolled has no sample")
    if not np.all(np.isfinite(vectors)) or (count and not np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)):
        raise Invalid("vectors are not finite and L2-normalised")


def reembed(reg: Registry, embedder) -> None:
    """Replace every vector by `embedder`'s, computed from the crops kept beside the registry."""
    import cv2

    missing = [s for s in reg.samples if not s.get("crop") or not s.get("landmarks")]
    if missing:
        raise RegistryError(
            f"{reg.path}: no kept face crop for {counted(len(missing), 'sample')} (enrolled without keeping crops); "
            f"they cannot be re-embedded: delete and enrol those people again"
        )
    crops = []
    for s in reg.samples:
        data = reg.crop_bytes(s)
        image = None if data is None else cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise RegistryError(f"{reg.path}: the face crop of sample {s['id']} is missing or unreadable")
        crops.append(embedder.crop(image, np.asarray(s["landmarks"], np.float32)))
    reg.vectors = embedder.embed_crops(np.stack(crops)) if crops else np.zeros((0, embedder.dim), np.float32)
    reg.model = embedder.model_info
    reg.changed = reg.reembedded = True


@contextlib.contextmanager
def transaction(path: str | Path, *, model: dict | None = None, create: bool = False):
    """Lock the registry, load it, let the caller change it, save it if it changed (only if no
    error; a failed transaction removes the crops it wrote). A postgresql:// registry: one
    database transaction, writers on every machine taking turns."""
    if postgres.is_url(str(path)):
        yield from _database_transaction(str(path), model=model, create=create)
        return
    path = Path(path)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    if not path.is_dir():
        raise RegistryError(f"{path}: no registry here; enrol someone first", REGISTRY_ELSEWHERE)
    with locked(path / INDEX):
        try:
            reg = Registry.open(path, model=model, create=create)
            yield reg
            if reg.changed:
                reg.save()
        finally:
            collect(path)  # what a failed or killed writer left behind


def _database_transaction(url: str, *, model: dict | None, create: bool):
    db = postgres.database(url)
    with contextlib.nullcontext(postgres.joined(url)) if postgres.joined(url) is not None else db.begin() as conn:
        reg = postgres.load(conn, db, PostgresRegistry, model=model, create=create, lock=True)
        yield reg
        if reg.changed:
            postgres.save(conn, reg)


def restore(path: str | Path) -> int:
    """Make the backup (previous generation) current again; returns its generation."""
    if postgres.is_url(str(path)):
        raise postgres.not_here(postgres.database(str(path)), "restore")
    path = Path(path)
    if not (path / INDEX).is_file() and not (path / BACKUP).is_file():
        raise RegistryError(f"{path}: no registry here")
    with locked(path / INDEX):
        backup = path / BACKUP
        if not backup.is_file():
            raise RegistryError(f"{path}: no previous generation to restore")
        reg = Registry._load(path, backup)  # verifies its arrays
        with atomic_write(path / INDEX) as f:
            f.write(backup.read_bytes())
        collect(path)
        return reg.generation


def exists(path: str | Path) -> bool:
    """Whether anyone was ever enrolled there (a registry.json in the folder, or the database's registry row)."""
    return stored_model(path) is not None if postgres.is_url(str(path)) else (Path(path) / INDEX).is_file()


def stored_model(path: str | Path) -> dict | None:
    """The model recorded in a registry (None when there is none), without loading its arrays.
    Only the model is checked here: the whole document is, when the registry is opened."""
    if postgres.is_url(str(path)):
        return postgres.stored_model(postgres.database(str(path)))
    index = Path(path) / INDEX
    if not index.is_file():
        return None
    try:
        doc = json.loads(index.read_bytes())
        if not isinstance(doc, dict):
            raise Invalid("the document must be a JSON object")
        return check_model(doc.get("model"))
    except Invalid as err:
        raise RegistryError(f"{index}: {err}", RESTORE) from None
    except (OSError, ValueError, RecursionError) as err:
        raise RegistryError(f"{index}: unreadable ({type(err).__name__})", RESTORE) from None


class EnrolledNames:
    """The names enrolled in a registry now, re-read only when registry.json was replaced (a
    stat per call). None until a registry could be read."""

    def __init__(self, path: str | Path):
        self.names, self.stamp = None, None
        if postgres.is_url(str(path)):
            self.db, self.watch = postgres.database(str(path)), None
        else:
            self.db, self.index = None, Path(path) / INDEX

    def __call__(self) -> set[str] | None:
        if self.db is not None:
            return self._from_database()
        try:
            stamp = _stamp(self.index)
            if stamp != self.stamp:
                doc = check_document(json.loads(self.index.read_bytes()))
                self.names, self.stamp = {i["name"] for i in doc["identities"]}, stamp
        except (OSError, ValueError, RecursionError, Invalid):
            pass  # being replaced, or damaged: keep what was read last
        return self.names

    def _from_database(self) -> set[str] | None:
        if self.watch is not None and self.watch.news == self.stamp:
            return self.names
        try:
            news = None if self.watch is None else self.watch.news
            generation = postgres.generation(self.db)
            self.names = postgres.names(self.db)
            if self.watch is None:
                self.watch = postgres.Watch(self.db, generation)
                self.watch.start()
            self.watch.generation, self.stamp = generation, news
        except RegistryError:
            pass  # the database away: keep what was read last
        return self.names


def _stamp(index: Path) -> tuple:
    """What changes whenever registry.json is replaced (saves write a new file and rename it)."""
    st = index.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


def per_identity_scores(vectors: np.ndarray, ids: np.ndarray, identities: int, queries: np.ndarray) -> np.ndarray:
    """(M, K) best cosine score of each identity for each query; rows of `vectors` grouped by id."""
    return best_per_identity(queries @ vectors.T, ids, identities)


def best_per_identity(scores: np.ndarray, ids: np.ndarray, identities: int) -> np.ndarray:
    """(M, K) the maximum of scores (M, N) over each identity's columns (ids (N,), grouped by id);
    -inf for an identity without a column."""
    out = np.full((len(scores), identities), -np.inf, np.float32)
    if not len(ids):
        return out
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    if np.all(np.diff(ids) >= 0):
        out[:, ids[starts]] = np.maximum.reduceat(scores, starts, axis=1)
    else:  # not grouped (only between edits in memory): the slower general form
        for k in range(identities):
            cols = ids == k
            if cols.any():
                out[:, k] = scores[:, cols].max(axis=1)
    return out


@dataclass
class PostgresRegistry(Registry):
    """A registry read from PostgreSQL (registry/postgres.py): the same in-memory registry, whose
    crops live in the database and whose saves are transactions there. `path` is the Database."""

    loaded: tuple = field(default_factory=lambda: (set(), {}))  # (sample ids, {person id: (name, updated)}) as stored: what a save compares with
    pending_crops: dict = field(default_factory=dict)  # sample id -> PNG bytes to insert with it
    watch: object = None  # postgres.Watch: when to reload (shared by the registries loaded after this one)
    news: int = 0  # the watch's news when this one was loaded

    @classmethod
    def open_url(cls, url: str, *, model: dict | None, create: bool) -> "PostgresRegistry":
        db = postgres.database(url)
        with db.begin() as conn:
            reg = postgres.load(conn, db, PostgresRegistry, model=model, create=create, lock=False)
        reg.watch = postgres.Watch(db, reg.generation)
        return reg

    @property
    def offline(self) -> str | None:
        """Why the database cannot be reached now (the registry in memory is used meanwhile)."""
        return None if self.watch is None else self.watch.offline

    def reload(self) -> "PostgresRegistry":
        """The registry as stored now if it changed (told by the database, or its generation polled);
        else, and while the database is away, this one."""
        if self.watch is None:
            return self
        self.watch.start()
        news = self.watch.news
        if news == self.news:
            return self
        try:
            if postgres.generation(self.path) == self.generation:
                self.news = news
                return self  # nothing new (the first look, or the database back unchanged)
            with self.path.begin() as conn:
                new = postgres.load(conn, self.path, PostgresRegistry, model=self.model, create=True, lock=False)
        except RegistryError as err:
            self.watch.offline = err.message
            return self
        self.watch.generation, new.watch, new.news = new.generation, self.watch, news
        return new

    def crop_bytes(self, sample: dict) -> bytes | None:
        if not sample.get("crop"):
            return None
        return self.pending_crops.get(sample["id"]) or postgres.crop(self.path, sample["id"])

    def _write_crop(self, sample_id: str, crop_bgr: np.ndarray) -> str:
        import cv2

        ok, data = cv2.imencode(".png", crop_bgr)
        if ok:
            self.pending_crops[sample_id] = data.tobytes()
        return crop_path(sample_id)

    def save(self) -> None:
        raise RegistryError(f"registry {self.path}: changes are saved by registry.transaction")
