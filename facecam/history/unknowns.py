"""The faces nobody enrolled, grouped by person (the clusters `facecam unknowns` lists), the faces
of a cluster worth enrolling, a contact sheet, and the history searched by a face.

Clusters are computed afresh from the unknown sightings' faces at every call (10,000 faces take
a second), so they follow every enrolment, correction and deletion; a sighting still going on
joins once it has ended. A cluster's id is the id of its
oldest sighting: the same from run to run while that sighting stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import NotFoundError, Remedy
from ..quality import face_measures
from ..words import counted
from .store import History
from .times import iso

# Sharpness (quality.face_measures) below which a face is too blurred, small or dark to tell who it
# is: such faces look alike to an embedder and would form groups of strangers. On the Hamilton
# clip's audience the faces below are dark smudges; the faces one can recognise measure 9-350.
UNCLEAR = 6.0
SHEET_FACES = 8  # crops per cluster on the contact sheet


@dataclass
class Cluster:
    id: int  # the id of its oldest sighting
    rows: list[dict]  # its sightings, oldest first
    vectors: np.ndarray  # (n, D) their faces' vectors, by the embedder in use

    def summary(self) -> dict:
        return {"cluster": self.id, "sightings": len(self.rows), "first_seen": iso(self.rows[0]["started_at"]),
                "last_seen": iso(max(r["ended_at"] for r in self.rows)),
                "sources": sorted({r["source"] for r in self.rows}), "sighting_ids": [r["id"] for r in self.rows]}

    def typical_first(self) -> list[int]:
        """Indices of its faces, the most typical (nearest the cluster's mean) first."""
        mean = self.vectors.mean(axis=0)
        return list(np.argsort(-(self.vectors @ mean), kind="stable"))


def face_vectors(store: History, rows: list[dict], embedder) -> np.ndarray:
    """The vectors (N, D) of these sightings' faces by `embedder`: the stored embedding when it was
    made by the same model, else the face re-embedded from its kept crop."""
    out = np.zeros((len(rows), embedder.dim), np.float32)
    again = []
    for k, row in enumerate(rows):
        if row["model"] == embedder.name and len(row["embedding"]) == embedder.dim:
            out[k] = row["embedding"]
        else:
            again.append(k)
    if again:
        crops = [embedder.crop(*decoded_face(store, rows[k]["id"])) for k in again]
        out[again] = embedder.embed_crops(np.stack(crops))
    return out


def decoded_face(store: History, sighting_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(the kept face crop, BGR uint8 224x224, its landmarks (5, 2))."""
    import cv2

    face = store.face(sighting_id)
    crop = cv2.imdecode(np.frombuffer(face.crop, np.uint8), cv2.IMREAD_COLOR)
    return crop, face.landmarks


def unknown_clusters(store: History, embedder, *, merge_score: float | None = None) -> tuple[list[Cluster], list[dict]]:
    """(every unknown sighting that kept a clear face, grouped by person, most sightings first;
    the unknown sightings whose faces are too unclear to group)."""
    from ..clustering import MERGE_SCORE, cluster

    rows, unclear = [], []
    for row in store.with_faces(unknown=True):
        if not going_on(row):  # its recorder would write its name back over a change
            (rows if sharpness(store, row) >= UNCLEAR else unclear).append(row)
    if not rows:
        return [], unclear
    vectors = face_vectors(store, rows, embedder)
    labels = cluster(vectors, embedder.min_cosine(MERGE_SCORE if merge_score is None else merge_score))
    out = []
    for label in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == label)
        out.append(Cluster(id=rows[members[0]]["id"], rows=[rows[k] for k in members], vectors=vectors[members]))
    return sorted(out, key=lambda c: (-len(c.rows), c.id)), unclear


def going_on(row: dict) -> bool:
    """Whether a sighting is still being seen: not closed, and written lately (a recorder rewrites
    one that goes on every 30 s; one left open by a process that was killed is not)."""
    import time

    from .recorder import Recorder

    return not row["closed"] and row["ended_at"] > time.time() - 3 * Recorder.UPDATE_SECONDS


def sharpness(store: History, row: dict) -> float:
    """The face's sharpness: as stored, else measured on its crop (faces kept by facecam < 0.2)."""
    if row.get("sharpness") is None:
        row["sharpness"] = face_measures(*decoded_face(store, row["id"]))[0]
    return row["sharpness"]


def find(clusters: list[Cluster], cluster_id: int) -> Cluster:
    for c in clusters:
        if c.id == cluster_id:
            return c
    raise NotFoundError(f"no unknown group {cluster_id} (a group's id changes when its oldest sighting is erased or "
                        f"named)", Remedy("to list them", command="unknowns"))


def touching(clusters: list[Cluster], *, since: float | None, until: float | None, source: str | None) -> list[Cluster]:
    """The clusters with a sighting in [since, until) on `source` (None: any)."""
    def inside(r):
        return ((since is None or r["ended_at"] >= since) and (until is None or r["started_at"] < until)
                and (source is None or r["source"] == source))

    return [c for c in clusters if any(inside(r) for r in c.rows)]


def contact_sheet(store: History, clusters: list[Cluster], *, per_row: int = SHEET_FACES) -> np.ndarray:
    """A BGR image: one row per cluster, its label on the left, its most typical faces beside it."""
    from ..draw import sheet

    rows = []
    for c in clusters:
        s = c.summary()
        label = [f"group {c.id}", f"{counted(s['sightings'], 'sighting')}", f"{s['first_seen'][:16].replace('T', ' ')} to",
                 f"{s['last_seen'][:16].replace('T', ' ')} UTC"]
        rows.append((label, [decoded_face(store, c.rows[k]["id"])[0] for k in c.typical_first()[:per_row]]))
    return sheet(rows, per_row=per_row)


def nearest(store: History, vector: np.ndarray, embedder, *, top: int) -> list[tuple[dict, float]]:
    """The `top` sightings (named or not) whose faces are nearest `vector`: (row, cosine), best first."""
    rows = store.with_faces()
    if not rows:
        return []
    cosines = face_vectors(store, rows, embedder) @ np.asarray(vector, np.float32)
    order = np.argsort(-cosines, kind="stable")[:top]
    return [(rows[k], float(cosines[k])) for k in order]
