"""Who is enrolled: `facecam list`, `delete`, `rename`, and `facecam registry check | restore |
reembed | export | import`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import ui
from ..validate import hide_password
from ..words import counted
from .options import DeviceOpt, HistoryOpt, RegistryOpt, confirm, people_of, registry_path

app = typer.Typer()
registry_app = typer.Typer(help="Check, restore, re-embed, export and import the registry.", no_args_is_help=True)


@app.command("list")
def list_people(
    registry: RegistryOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per person on stdout.")] = False,
) -> None:
    """Everyone enrolled: samples, pose coverage, when, with which model."""
    from ..registry import Registry, exists

    path = registry_path(registry)
    # a database with nobody enrolled, or a folder that is not there or empty
    empty = not exists(path) if isinstance(path, str) else not path.exists() or (path.is_dir() and not any(path.iterdir()))
    if empty:
        # nothing enrolled yet is an answer, not an error
        ui.info(f"nobody enrolled yet in {hide_password(str(path))} (facecam register --name NAME enrols someone)")
        return
    reg = Registry.open(path)
    rows = []
    for info in reg.people():
        if json_out:
            ui.json_line(info)
        rows.append([info["name"], info["samples"], info["negatives"], ", ".join(info["poses"]) or "-",
                     info["created"][:10], info["updated"][:16].replace("T", " ")])
    if not json_out:
        ui.table(None, ["name", "samples", "not them", "poses", "enrolled", "updated (UTC)"], rows)
        ui.info(f"{counted(len(reg.identities), 'person')}, {counted(len(reg.samples), 'sample')} in {reg.path} "
                f"(model {reg.model['name']})" if rows else f"nobody enrolled in {reg.path}")


@app.command()
def delete(
    name: Annotated[str, typer.Argument(help="Who to remove, with all their samples, face crops and sightings.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    registry: RegistryOpt = None,
    history: HistoryOpt = None,
) -> None:
    """Erase a person: their samples, vectors and face crops (from the registry and its backup),
    and their sightings and faces in the history."""
    people = people_of(registry, history)
    count, sightings = people.erasure(name)
    what = f"{counted(count, 'sample')} and {counted(sightings, 'sighting')}" if count is not None else f"{counted(sightings, 'sighting')}"
    confirm(f"Delete {ui.safe(name)}: {what}?", yes)
    erased = people.delete(name)
    ui.info(f"deleted {name} ({erased.samples} samples, {erased.sightings} sightings)")


@app.command()
def rename(
    old: Annotated[str, typer.Argument(help="The enrolled name.")],
    new: Annotated[str, typer.Argument(help="The new name.")],
    registry: RegistryOpt = None,
    history: HistoryOpt = None,
) -> None:
    """Rename an enrolled person (their sightings follow)."""
    from ..validate import person_name

    new = person_name(new)  # as it is stored: doubled spaces made single
    moved = people_of(registry, history).rename(old, new)
    ui.info((f"renamed {old} to {new}" + (f" ({moved} sightings)" if moved else "")) if old != new
            else f"{old}: the name is unchanged")


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
    ui.info(f"{hide_password(str(path))}: restored generation {restore(path)}")


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


@registry_app.command("copy")
def registry_copy(
    source: Annotated[str, typer.Argument(metavar="FROM", help="The registry to copy: a folder or postgresql://...")],
    target: Annotated[str, typer.Argument(metavar="TO", help="Where to: a folder or postgresql://..., holding nobody.")],
) -> None:
    """Copy a registry, folder to PostgreSQL or back, and check the copy: the same people, vectors,
    face crops and model (so a registry can grow from one machine to many without re-enrolling)."""
    from ..registry import Registry, copy, place

    origin = Registry.open(place(source))
    copied = copy(origin, place(target))
    ui.info(f"copied {counted(len(copied.identities), 'person')}, {counted(len(copied.samples), 'sample')} "
            f"({copied.model['name']}) from {origin.path} to {hide_password(str(copied.path))}; checked: the same "
            f"people, vectors and face crops")


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
    ui.info(f"imported {len(names)} people into {hide_password(str(path))}")
