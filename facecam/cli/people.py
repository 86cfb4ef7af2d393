"""Who is enrolled: `facecam list`, `delete`, `rename`, and `facecam registry check | restore |
reembed | export | import`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from .. import ui
from .app import app, registry_app
from .options import DeviceOpt, HistoryOpt, RegistryOpt, history_target, registry_path


@app.command("list")
def list_people(
    registry: RegistryOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per person on stdout.")] = False,
) -> None:
    """Everyone enrolled: samples, pose coverage, when, with which model."""
    from ..registry import Registry

    reg = Registry.open(registry_path(registry))
    rows = []
    for info in reg.people():
        if json_out:
            ui.json_line(info)
        rows.append([info["name"], info["samples"], info["negatives"], ", ".join(info["poses"]) or "-",
                     info["created"][:16].replace("T", " "), info["updated"][:16].replace("T", " "), info["model"]])
    if not json_out:
        ui.table(None, ["name", "samples", "not them", "poses", "created (UTC)", "updated (UTC)", "model"], rows)
        ui.info(f"{len(reg.identities)} people, {len(reg.samples)} samples in {reg.path}")


@app.command()
def delete(
    name: Annotated[str, typer.Argument(help="Who to remove, with all their samples, face crops and sightings.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    registry: RegistryOpt = None,
    history: HistoryOpt = None,
) -> None:
    """Erase a person: their samples, vectors and face crops (from the registry and its backup),
    and their sightings and faces in the history."""
    from ..errors import NotFoundError
    from ..registry import Registry, transaction

    path = registry_path(registry)
    store = _existing_history(history, registry)
    try:
        sightings = store.count(name=name) if store is not None else 0
        try:
            count = Registry.open(path).count(name)
        except NotFoundError:
            if not sightings:
                raise
            count = None  # not enrolled (any more), but still in the history
        what = f"{count} sample(s) and {sightings} sighting(s)" if count is not None else f"{sightings} sighting(s)"
        if not yes and sys.stdin.isatty() and not typer.confirm(f"Delete {ui.safe(name)}: {what}?"):
            raise typer.Abort()
        erased = store.erase(name) if store is not None else 0  # the history first: a failure leaves the enrolment
        removed = 0
        if count is not None:
            with transaction(path) as reg:
                removed = reg.remove(name)
    finally:
        if store is not None:
            store.close()
    ui.info(f"deleted {name} ({removed} samples, {erased} sightings)")


@app.command()
def rename(
    old: Annotated[str, typer.Argument(help="The enrolled name.")],
    new: Annotated[str, typer.Argument(help="The new name.")],
    registry: RegistryOpt = None,
    history: HistoryOpt = None,
) -> None:
    """Rename an enrolled person (their sightings follow)."""
    from ..registry import transaction

    store = _existing_history(history, registry)
    try:
        with transaction(registry_path(registry)) as reg:
            reg.rename(old, new)
        moved = store.rename(old, new) if store is not None and old != new else 0
    finally:
        if store is not None:
            store.close()
    ui.info((f"renamed {old} to {new}" + (f" ({moved} sightings)" if moved else "")) if old != new
            else f"{old}: the name is unchanged")


def _existing_history(history: str | None, registry):
    """The history, or None when none was ever kept where it is looked for by default."""
    from ..history import open_existing

    return open_existing(history_target(history, registry), chosen=history is not None)


@registry_app.command("check")
def registry_check(registry: RegistryOpt = None) -> None:
    """Verify the document against its schema and checksum, and every array; exit 1 naming what is wrong."""
    from ..registry import Registry

    reg = Registry.open(registry_path(registry))
    ui.info(f"{reg.path}: ok, generation {reg.generation}, {len(reg.identities)} people, "
            f"{len(reg.samples)} samples, model {reg.model['name']}")


@registry_app.command("restore")
def registry_restore(registry: RegistryOpt = None) -> None:
    """Go back to the previous generation (after a damaged file or an unwanted change)."""
    from ..registry import restore

    path = registry_path(registry)
    ui.info(f"{path}: restored generation {restore(path)}")


@registry_app.command("reembed")
def registry_reembed(
    model: Annotated[str, typer.Option(help="The embedder to rebuild every vector with.")],
    registry: RegistryOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Rebuild all vectors with another model from the face crops kept beside the registry."""
    from ..models import load_embedder
    from ..registry import reembed, transaction

    embedder = load_embedder(model, device=device)
    with transaction(registry_path(registry)) as reg:
        old = reg.model["name"]
        reembed(reg, embedder)
    ui.info(f"{reg.path}: {len(reg.samples)} samples re-embedded, {old} -> {embedder.name}")


@registry_app.command("export")
def registry_export(file: Annotated[Path, typer.Argument(help="The .npz file to write.")], registry: RegistryOpt = None) -> None:
    """Write the registry to one .npz file (vectors, ids and the JSON document; no crops, no pickle)."""
    from ..registry import Registry, export

    reg = Registry.open(registry_path(registry))
    export(reg, file)
    ui.info(f"exported {len(reg.identities)} people, {len(reg.samples)} samples to {file}")


@registry_app.command("import")
def registry_import(
    file: Annotated[Path, typer.Argument(help="A file written by 'facecam registry export'.")],
    registry: RegistryOpt = None,
) -> None:
    """Add the people of an export to the registry (same model only); a name enrolled in both is an error."""
    from ..registry import import_people, read_export, transaction

    doc, vectors, ids = read_export(file)
    path = registry_path(registry)
    with transaction(path, model=doc["model"], create=True) as reg:
        names = import_people(reg, doc, vectors, ids)
    ui.info(f"imported {len(names)} people into {path}")
