"""registry.json and export documents: the schema every reader checks, and the checksum over the
document's content (format 2), so a damaged or hand-edited document is named like a damaged array.

Every path facecam writes or deletes is computed here from ids facecam generated (`crop_path`,
`array_name`), never taken from a document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import unicodedata

from ..errors import FacecamError, UsageError
from ..validate import person_name

FORMAT = 2  # 2: the document carries a checksum of its own content; 1 is still read
FORMATS = (1, 2)
GENERATION_MAX = 10**12
DIM_MAX = 8192
SAMPLE_ID = re.compile(r"[0-9a-f]{32}")
HEX64 = re.compile(r"[0-9a-f]{64}")
POSE = re.compile(r"[a-z][a-z-]{0,31}")
TEXT_MAX = 4096


class RegistryError(FacecamError):
    """The registry cannot be read or changed as asked."""


class Invalid(ValueError):
    """What is wrong with a document, as a short phrase naming the field."""


def checksum(doc: dict) -> str:
    """sha256 of the document's canonical JSON, without its own "checksum" field."""
    body = {k: v for k, v in doc.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                     allow_nan=False).encode()).hexdigest()


def crop_path(sample_id: str) -> str:
    """Where a sample's face crop lives, relative to the registry folder."""
    if not isinstance(sample_id, str) or not SAMPLE_ID.fullmatch(sample_id):
        raise Invalid(f"sample id {sample_id!r} is not one facecam makes")
    return f"crops/{sample_id}.png"


def array_name(key: str, generation: int) -> str:
    return f"{key}.{generation}.npy"


def _int(value, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"{what} must be a whole number from {low} to {high}")
    return value


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Invalid(f"{what} must be a finite number")
    return value


def _text(value, what: str, limit: int = TEXT_MAX) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise Invalid(f"{what} must be text of at most {limit} characters")
    return value


def _time(value, what: str) -> str:
    try:
        dt.datetime.fromisoformat(_text(value, what, 64))
    except ValueError:
        raise Invalid(f"{what} must be an ISO 8601 time") from None
    return value


def _object(value, what: str, required: set, optional: set = frozenset()) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"{what} must be an object")
    missing, unknown = required - set(value), set(value) - required - set(optional)
    if missing or unknown:
        raise Invalid(f"{what}: " + ("missing " + ", ".join(sorted(missing)) if missing else
                                     "unknown field " + ", ".join(sorted(map(str, unknown)))))
    return value


def _list(value, what: str) -> list:
    if not isinstance(value, list):
        raise Invalid(f"{what} must be a list")
    return value


NUMBERS = ("quality", "yaw", "pitch", "sharpness", "frame_time")
SAMPLE_FIELDS = {"id", "time", "source", "frame", "pose", "crop", "landmarks", "negative", *NUMBERS}


def check_sample(sample, what: str, *, old_format: bool = False) -> dict:
    """One sample's metadata. old_format: format 1, where guided enrolment wrote the frame's time
    in seconds over the sample's "time"."""
    _object(sample, what, {"id", "time", "source"}, SAMPLE_FIELDS)
    if not isinstance(sample["id"], str) or not SAMPLE_ID.fullmatch(sample["id"]):
        raise Invalid(f"{what}.id is not an id facecam makes")
    if old_format and not isinstance(sample["time"], str):
        _number(sample["time"], f"{what}.time")
    else:
        _time(sample["time"], f"{what}.time")
    _text(sample["source"], f"{what}.source")
    for key in NUMBERS:
        if key in sample:
            _number(sample[key], f"{what}.{key}")
    if "negative" in sample and sample["negative"] is not True:
        raise Invalid(f"{what}.negative must be true when present")
    if "frame" in sample:
        _int(sample["frame"], f"{what}.frame", 0, 1 << 53)
    if "pose" in sample and not (isinstance(sample["pose"], str) and POSE.fullmatch(sample["pose"])):
        raise Invalid(f"{what}.pose must be a pose name")
    if "crop" in sample and sample["crop"] != crop_path(sample["id"]):
        raise Invalid(f"{what}.crop must be {crop_path(sample['id'])}")
    if "landmarks" in sample:
        points = _list(sample["landmarks"], f"{what}.landmarks")
        if len(points) != 5 or not all(isinstance(p, list) and len(p) == 2 for p in points):
            raise Invalid(f"{what}.landmarks must be 5 [x, y] points")
        for p in points:
            _number(p[0], f"{what}.landmarks"), _number(p[1], f"{what}.landmarks")
    return sample


def check_model(model, what: str = "model") -> dict:
    _object(model, what, {"name", "dim"}, {"sha256"})
    _text(model["name"], f"{what}.name", 200)
    _int(model["dim"], f"{what}.dim", 1, DIM_MAX)
    if "sha256" in model and model["sha256"] is not None:
        _text(model["sha256"], f"{what}.sha256", 200)
    return model


def check_identities(identities) -> list[dict]:
    seen = set()
    for k, ident in enumerate(_list(identities, "identities")):
        what = f"identities[{k}]"
        _object(ident, what, {"name", "created", "updated"})
        try:
            person_name(ident["name"])
        except UsageError as err:
            raise Invalid(f"{what}.name: {err}") from None
        # NFC is the stored form; a doubled space (allowed before names collapsed them) stays readable
        normal = unicodedata.normalize("NFC", ident["name"]) == ident["name"]
        if not normal or ident["name"] in seen:
            raise Invalid(f"{what}.name is " + ("not in normal form" if not normal else "a duplicate"))
        seen.add(ident["name"])
        _time(ident["created"], f"{what}.created"), _time(ident["updated"], f"{what}.updated")
    return identities


def check_document(doc) -> dict:
    """A registry.json document, checked field by field (Invalid names the first problem)."""
    if not isinstance(doc, dict):
        raise Invalid("the document must be a JSON object")
    if doc.get("format") not in FORMATS:
        raise Invalid(f"registry format {doc.get('format')!r}; this facecam reads {', '.join(map(str, FORMATS))}")
    fields = {"format", "generation", "model", "identities", "samples", "files"}
    _object(doc, "the document", fields | ({"checksum"} if doc["format"] >= 2 else set()))
    if doc["format"] >= 2 and doc["checksum"] != checksum(doc):
        raise Invalid("damaged (its checksum does not match its content)")
    generation = _int(doc["generation"], "generation", 0, GENERATION_MAX)
    check_model(doc["model"])
    check_identities(doc["identities"])
    ids = set()
    for k, sample in enumerate(_list(doc["samples"], "samples")):
        check_sample(sample, f"samples[{k}]", old_format=doc["format"] == 1)
        if sample["id"] in ids:
            raise Invalid(f"samples[{k}].id is a duplicate")
        ids.add(sample["id"])
    files = _object(doc["files"], "files", {"vectors", "ids"})
    for key in ("vectors", "ids"):
        entry = _object(files[key], f"files.{key}", {"name", "sha256"})
        if entry["name"] != array_name(key, generation) or not (isinstance(entry["sha256"], str) and HEX64.fullmatch(entry["sha256"])):
            raise Invalid(f"files.{key} must name {array_name(key, generation)} and its sha256")
    return doc


def check_export(doc) -> dict:
    """The document of an export file: model, identities, samples (ids and crops are made anew)."""
    if not isinstance(doc, dict) or doc.get("format") not in FORMATS:
        raise Invalid("not an export document")
    _object(doc, "the document", {"format", "model", "identities", "samples"})
    check_model(doc["model"])
    check_identities(doc["identities"])
    for k, sample in enumerate(_list(doc["samples"], "samples")):
        check_sample({"id": "0" * 32, **{key: v for key, v in sample.items() if key != "id"}} if isinstance(sample, dict)
                     else sample, f"samples[{k}]", old_format=True)
    return doc
