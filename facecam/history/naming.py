"""Naming faces the history kept: enrol a cluster of unknown faces, and correct one sighting
("that was not Alice", "that was Bob"), teaching the registry as well as fixing the record."""

from __future__ import annotations

from pathlib import Path

from ..errors import NotFoundError, Remedy, UsageError
from ..types import Sample
from ..validate import person_name, shorten
from .store import History
from .unknowns import Cluster, _decoded, enrolment_samples, face_vectors, going_on


def enrol_cluster(store: History, registry: Path, embedder, cluster: Cluster, name: str, *, add: bool = False,
                  force: bool = False, threshold: float | None = None) -> dict:
    """Enrol `name` from the cluster's best, most varied faces, with register's checks (a name
    enrolled already needs add; a face that matches someone else needs force); then every
    sighting of the cluster carries the name. Returns {"name", "added", "total", "sightings"}."""
    from .. import enrol

    name = person_name(name)
    samples = enrolment_samples(store, cluster)
    counts = enrol.save(registry, embedder, {name: samples}, add=add, force=force, threshold=threshold,
                        can_replace=False)
    named = store.set_name([r["id"] for r in cluster.rows], name)
    return {"name": name, "added": len(samples), "total": counts[name], "sightings": named}


def correct(store: History, registry: Path, embedder, sighting_id: int, *, name: str | None,
            force: bool = False, threshold: float | None = None) -> dict:
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
    row = {**row, "embedding": face.embedding, "model": face.model}
    vector = face_vectors(store, [row], embedder)[0]
    crop, landmarks = _decoded(store, sighting_id)
    sample = Sample(vector, {"source": f"history sighting {sighting_id}", "landmarks": landmarks.round(2).tolist()}, crop)
    negatives = {was: [sample]} if was is not None else {}
    if name is None:
        from ..registry import transaction

        with transaction(registry, model=embedder.model_info) as reg:
            enrol.add_negatives(reg, was, [sample])
    else:
        enrol.save(registry, embedder, {name: [sample]}, add=True, force=force, threshold=threshold, negatives=negatives)
    store.set_name([sighting_id], name)
    return {"sighting": sighting_id, "was": was, "now": name}
