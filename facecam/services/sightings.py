"""The use cases that take the registry and the history together, for the commands and the HTTP
API alike: enrol a group of unknown faces, correct one sighting ("that was not Alice", "that was
Bob"), find a face in the history, and export everything held about one person."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np

from ..enrol import main_face
from ..errors import NotFoundError, Remedy, UsageError
from ..guide import Directions, head_pose
from ..history import History, iso, public
from ..history.unknowns import Cluster, decoded_face, face_vectors, going_on, nearest
from ..images import read_image
from ..quality import face_measures
from ..registry import exists, transaction
from ..storage import atomic_write
from ..types import Sample
from ..validate import hide_password, person_name, shorten
from .people import People

GROUP_SAMPLES = 8  # samples at most from one group of unknown faces


def group_samples(store: History, cluster: Cluster, *, limit: int = GROUP_SAMPLES) -> list[Sample]:
    """The group's faces worth enrolling: the sharpest in each head direction (the directions of
    guided enrolment), then the sharpest of the rest, up to `limit`."""
    directions = Directions()
    candidates = []
    for k, row in enumerate(cluster.rows):
        crop, landmarks = decoded_face(store, row["id"])
        yaw, pitch = head_pose(landmarks)
        candidates.append((k, directions.of(yaw, pitch), yaw, pitch, face_measures(crop, landmarks)[0], crop, landmarks))
    candidates.sort(key=lambda c: -c[4])
    chosen, poses = [], set()
    for c in candidates:  # one per direction first: varied faces
        if c[1] is not None and c[1] not in poses:
            chosen.append(c)
            poses.add(c[1])
    chosen += [c for c in candidates if c not in chosen]
    samples = []
    for k, pose, yaw, pitch, sharpness, crop, landmarks in chosen[:limit]:
        metadata = {"source": f"history sighting {cluster.rows[k]['id']}", "yaw": round(float(yaw), 1),
                    "pitch": round(float(pitch), 1), "sharpness": round(float(sharpness), 1),
                    "landmarks": np.round(landmarks, 2).tolist(), **({"pose": pose} if pose else {})}
        samples.append(Sample(cluster.vectors[k], metadata, crop))
    return samples


def enrol_group(people: People, store: History, cluster: Cluster, name: str, *, add: bool = False,
                force: bool = False) -> dict:
    """Enrol `name` from the group's best, most varied faces, with register's checks (a name
    enrolled already needs add; a face that matches someone else needs force); then every
    sighting of the group carries the name. Returns {"name", "added", "total", "sightings"}."""
    name = person_name(name)
    samples = group_samples(store, cluster)
    with people.together():  # one transaction where the history shares the registry's database
        counts = people.enrol({name: samples}, add=add, force=force, can_replace=False)
        named = store.set_name([r["id"] for r in cluster.rows], name)
    return {"name": name, "added": len(samples), "total": counts[name], "sightings": named}


def correct(people: People, store: History, sighting_id: int, *, name: str | None, force: bool = False) -> dict:
    """name None: the sighting was not the person it names; its face becomes their negative
    sample (a face that is nearer it than any of theirs is not given their name again) and the
    sighting becomes unknown. name: it was `name`; its face becomes their sample (register's
    checks), a negative sample of the person it named, if any, and the sighting is renamed.
    Returns {"sighting", "was", "now"}."""
    from .. import enrol

    row = store.sighting(sighting_id)
    if row is None:
        raise NotFoundError(f"no sighting {sighting_id} in the history {store.where}")
    if going_on(row):
        raise UsageError(f"sighting {sighting_id} is still going on; correct it once it has ended")
    was = row["name"]
    if name is None and was is None:
        raise UsageError(f"sighting {sighting_id} is unknown already: nothing to correct",
                         Remedy("says who it was", "name", "NAME"))
    if name is not None:
        name = person_name(name)
        if name == was:
            raise UsageError(f"sighting {sighting_id} is {shorten(name)} already: nothing to correct")
    face = store.face(sighting_id)
    if face is None:
        raise UsageError(f"sighting {sighting_id} kept no face: there is nothing to learn from")
    vector = face_vectors(store, [{**row, "embedding": face.embedding, "model": face.model}], people.embedder)[0]
    crop, landmarks = decoded_face(store, sighting_id)
    sample = Sample(vector, {"source": f"history sighting {sighting_id}", "landmarks": landmarks.round(2).tolist()}, crop)
    with people.together():  # one transaction where the history shares the registry's database
        if name is None:
            with transaction(people.path, model=people.model) as reg:
                enrol.add_negatives(reg, was, [sample])
        else:
            people.enrol({name: [sample]}, add=True, force=force, negatives={was: [sample]} if was is not None else {})
        store.set_name([sighting_id], name)
    return {"sighting": sighting_id, "was": was, "now": name}


def search(people: People, store: History, photo, detector, *, top: int, origin: str | None = None) -> list[tuple[dict, float]]:
    """Was this person here? The `top` sightings (named or not) whose faces are nearest the
    photo's main face (a file, or a BGR image from `origin`): (row, score), best first."""
    image = photo if isinstance(photo, np.ndarray) else read_image(photo)
    face, problem = main_face(detector.detect(image))
    if face is None:
        raise UsageError(f"{origin or photo}: {problem}; give a photo of one face")
    vector = people.embedder.embed(image, [face])[0]
    return [(row, people.embedder.score(cosine)) for row, cosine in nearest(store, vector, people.embedder, top=top)]


EXPORT_README = """What facecam holds about {name}, exported {when}.

sightings.json / sightings.csv  every time a camera saw them: source, start and end (UTC),
                                frames, best score
faces/<sighting id>.jpg         the best face of each sighting (a 224x224 aligned crop)
enrolment.json                  their enrolment: when, and each sample's source and pose
enrolment/<sample id>.png       the face crop kept with each enrolment sample
"""


def export_person(people: People, name: str, output: Path) -> dict:
    """Everything facecam holds about one person in one .zip (a subject-access request): their
    sightings (JSON and CSV) with each one's face, their enrolment and its face crops. Returns
    the counts of sightings, faces and enrolment samples in it."""
    counts = {"sightings": 0, "faces": 0, "samples": 0}
    entries: list[tuple[str, bytes]] = []
    rows = []
    with people.opened_history() as store:
        for row in store.sightings(name=name) if store is not None else []:
            rows.append(public(row))
            face = store.face(row["id"])
            if face is not None:
                entries.append((f"faces/{row['id']}.jpg", face.crop))
                counts["faces"] += 1
    counts["sightings"] = len(rows)
    if exists(people.path) and name in (reg := people.registry()).names():
        i = reg.index_of(name)
        # their own faces: a negative sample is a stranger's face (a correction), not theirs to be given
        samples = [{k: v for k, v in s.items() if k != "identity"} for s in reg.samples
                   if s["identity"] == i and not s.get("negative")]
        entries.append(("enrolment.json", json.dumps({"identity": reg.identities[i], "model": reg.model,
                                                      "samples": samples}, indent=2).encode()))
        for s in samples:
            crop = reg.crop_bytes(s)
            if crop is not None:
                entries.append((f"enrolment/{s['id']}.png", crop))
        counts["samples"] = len(samples)
    if not rows and not counts["samples"]:
        raise NotFoundError(f"facecam holds nothing about {shorten(name)} (no enrolment in {hide_password(str(people.path))}, no sightings)")
    table = io.StringIO()
    if rows:
        writer = csv.DictWriter(table, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    entries = [("README.txt", EXPORT_README.format(name=name, when=iso(time.time())).encode()),
               ("sightings.json", json.dumps(rows, indent=2).encode()), ("sightings.csv", table.getvalue().encode()),
               *entries]
    with atomic_write(output) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries:
            archive.writestr(entry, data)
    return counts
