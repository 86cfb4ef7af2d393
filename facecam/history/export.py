"""A subject-access export: everything facecam holds about one person, in one .zip file."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from ..errors import HistoryError, NotFoundError
from ..storage import atomic_write
from ..validate import shorten
from .store import History, public
from .times import iso

README = """What facecam holds about {name}, exported {when}.

sightings.json / sightings.csv  every time a camera saw them: source, start and end (UTC),
                                frames, best score
faces/<sighting id>.jpg         the best face of each sighting (a 224x224 aligned crop)
enrolment.json                  their enrolment: when, and each sample's source and pose
enrolment/<sample id>.png       the face crop kept with each enrolment sample
"""


def export_person(name: str, output: Path, *, history: str, registry: Path) -> dict:
    """Write the .zip; returns the counts of sightings, faces and enrolment samples in it."""
    import time

    from ..registry import INDEX, Registry, crop_path

    counts = {"sightings": 0, "faces": 0, "samples": 0}
    entries: list[tuple[str, bytes]] = []
    rows = []
    try:
        store = History.open(history)
    except HistoryError:
        if Path(history).exists() or "://" in history:
            raise
        store = None  # no history was ever kept
    if store is not None:
        try:
            for row in store.sightings(name=name):
                rows.append(public(row))
                face = store.face(row["id"])
                if face is not None:
                    entries.append((f"faces/{row['id']}.jpg", face.crop))
                    counts["faces"] += 1
        finally:
            store.close()
    counts["sightings"] = len(rows)
    if (registry / INDEX).is_file():
        reg = Registry.open(registry)
        if name in reg.names():
            i = reg.index_of(name)
            # their own faces: a negative sample is a stranger's face (a correction), not theirs to be given
            samples = [{k: v for k, v in s.items() if k != "identity"} for s in reg.samples
                       if s["identity"] == i and not s.get("negative")]
            entries.append(("enrolment.json", json.dumps({"identity": reg.identities[i], "model": reg.model,
                                                          "samples": samples}, indent=2).encode()))
            for s in samples:
                crop = registry / crop_path(s["id"])
                if crop.is_file():
                    entries.append((f"enrolment/{s['id']}.png", crop.read_bytes()))
            counts["samples"] = len(samples)
    if not rows and not counts["samples"]:
        raise NotFoundError(f"facecam holds nothing about {shorten(name)} (no enrolment in {registry}, no sightings)")
    table = io.StringIO()
    if rows:
        writer = csv.DictWriter(table, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    entries = [("README.txt", README.format(name=name, when=iso(time.time())).encode()),
               ("sightings.json", json.dumps(rows, indent=2).encode()), ("sightings.csv", table.getvalue().encode()),
               *entries]
    with atomic_write(output) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries:
            archive.writestr(entry, data)
    return counts
