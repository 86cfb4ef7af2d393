"""Faces grouped by person: `facecam cluster` (a folder of photos) and `facecam unknowns` (the
faces nobody enrolled, from the history: list, contact sheet, enrol, forget)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import config, ui
from ..words import counted
from .history import SinceOpt, UntilOpt, local_iso, parse_period
from .options import DeviceOpt, HistoryOpt, ModelOpt, RegistryOpt, build_detector, confirm, progress

app = typer.Typer()

MergeOpt = Annotated[Optional[float], typer.Option(
    "--merge", min=0.0, max=1.0,
    help="Score (the calibrated scale) two groups' faces must reach on average to be one person [default: 0.7]; "
         "higher keeps different people apart more surely, and splits one person more often.")]


@app.command()
def cluster(
    photos: Annotated[list[Path], typer.Argument(help="Photos, or folders searched recursively for photos.")],
    out: Annotated[Path, typer.Option("--out", help="The folder to write: one sub-folder per person (must not exist, or be empty).")],
    min_size: Annotated[int, typer.Option(min=1, help="Faces a group needs to get its own folder; the faces of smaller ones are listed as "
        "fitting no group.")] = 2,
    link: Annotated[bool, typer.Option("--link/--copy", help="Symbolic links to the photos instead of copies [default: copies].")] = False,
    merge: MergeOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="Print the index (index.json) on stdout.")] = False,
) -> None:
    """Group the faces of a photo folder by person: one sub-folder of photos per person, and
    OUT/index.json (each face's photo, box and group; faces that fit no group; photos with none)."""
    import json

    from .. import images
    from ..clustering import MERGE_SCORE, cluster as group, photo_faces, sized_groups, write_groups
    from ..errors import UsageError
    from ..models import load_embedder
    from ..storage import atomic_write

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: exists and is not an empty folder; facecam cluster writes a new one")
    files = images.list_images(photos)
    if not files:
        raise UsageError("no photos found in " + ", ".join(map(str, photos)))
    detector = build_detector(None, None, device, config.DETECT_THRESHOLD, config.DETECT_MAX_SIZE)
    embedder = load_embedder(model, device=device)
    bar, report = progress(not json_out, "finding faces")
    with bar:
        faces, vectors, unreadable = photo_faces(files, detector, embedder, progress=report)
    for _, reason in unreadable:
        ui.warn(reason)
    score = MERGE_SCORE if merge is None else merge
    groups = sized_groups(group(vectors, embedder.min_cosine(score)), min_size)
    out.mkdir(parents=True, exist_ok=True)
    entries = write_groups(out, faces, groups, link=link)
    seen = {str(photo) for photo, _ in faces} | {str(photo) for photo, _ in unreadable}
    index = {"model": embedder.name, "merge_score": score, "min_size": min_size,
             "photos": len(files), "faces": [{"photo": str(photo), "box": [round(float(v), 1) for v in face.box],
                                              "score": round(float(face.score), 4),
                                              "group": entries[g]["group"] if g >= 0 else None}
                                             for (photo, face), g in zip(faces, groups)],
             "groups": entries,
             "no_face": [str(p) for p in files if str(p) not in seen],
             "unreadable": [{"photo": str(p), "reason": r} for p, r in unreadable]}
    with atomic_write(out / "index.json", "w") as f:
        json.dump(index, f, indent=1)
    if json_out:
        ui.json_line(index)
        return
    ungrouped = int((groups < 0).sum())
    ui.table(None, ["group", "faces", "photos"], [[e["group"], e["faces"], e["photos"]] for e in entries])
    ui.info(f"{counted(len(faces), 'face')} in {counted(len(files), 'photo')}: {counted(len(entries), 'group')} in {out}, "
            f"{counted(ungrouped, 'face')} "
            f"in no group (fewer than {min_size} alike), {counted(len(index['no_face']), 'photo')} without a face; "
            f"index: {out / 'index.json'}")


unknowns_app = typer.Typer(help="The faces nobody enrolled, grouped by person: list them, name a group, forget them.",
                           invoke_without_command=True)


def _clusters(history, registry, model, device, merge):
    """(the history, the embedder, every unknown cluster, the unclear unknown sightings)."""
    from ..history.unknowns import unknown_clusters
    from .options import embedder_for, open_history, registry_path

    store = open_history(history, registry)
    embedder = embedder_for(registry_path(registry), model, device)
    return (store, embedder, *unknown_clusters(store, embedder, merge_score=merge))


@unknowns_app.callback()
def unknowns(
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
    source: Annotated[Optional[str], typer.Option(help="Only the groups seen on this source.")] = None,
    min_sightings: Annotated[int, typer.Option(min=1, help="Only groups of at least N sightings (people who come back).")] = 1,
    sheet: Annotated[Optional[Path], typer.Option(help="Write a contact sheet (PNG: a row of faces per group) to this file.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per group on stdout.")] = False,
    merge: MergeOpt = None,
    history: HistoryOpt = None,
    registry: RegistryOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """The unknown sightings grouped by person: group id (its oldest sighting's), sightings, first
    and last seen, sources. A group seen in the period (--since/--until/--source) is listed whole."""
    if ctx.invoked_subcommand is not None:
        return
    from ..history.unknowns import contact_sheet, touching

    start, end = parse_period(since, until)
    store, embedder, clusters, unclear = _clusters(history, registry, model, device, merge)
    chosen = [c for c in touching(clusters, since=start, until=end, source=source) if len(c.rows) >= min_sightings]
    if sheet is not None and not chosen:
        ui.warn(f"no groups to draw: {sheet} not written")
        sheet = None
    if sheet is not None:
        from ..storage import write_image

        write_image(sheet, contact_sheet(store, chosen))
    store.close()
    if json_out:
        for c in chosen:
            ui.json_line(c.summary())
        return
    rows = [[s["cluster"], s["sightings"], local_iso(s["first_seen"]), local_iso(s["last_seen"]),
             ", ".join(map(ui.short_source, s["sources"]))] for s in (c.summary() for c in chosen)]
    if rows:  # else the line below says there are none
        ui.table(None, ["group", "sightings", "first seen (local)", "last seen (local)", "sources"], rows,
                 whole=("first seen (local)", "last seen (local)"), shared=("sources",))
    ui.info(f"{counted(len(chosen), 'group')} of unknown faces, {counted(sum(len(c.rows) for c in chosen), 'sighting')}"
            + (f"; {len(unclear)} too unclear to group" if unclear else "")
            + (f"; contact sheet: {sheet}" if sheet else "")
            + ("; 'facecam unknowns enrol GROUP --name NAME' enrols one" if chosen else ""))


@unknowns_app.command("enrol")
def unknowns_enrol(
    group: Annotated[int, typer.Argument(help="The group's id, as 'facecam unknowns' lists it.")],
    name: Annotated[str, typer.Option(help="Who it is.")],
    add: Annotated[bool, typer.Option("--add", help="Add to someone enrolled already.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Enrol even if the faces match someone else enrolled.")] = False,
    merge: MergeOpt = None,
    history: HistoryOpt = None,
    registry: RegistryOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Enrol a group of unknown faces under a name: its sharpest face in each head direction (up to
    8 samples); its sightings then carry the name."""
    from ..history.unknowns import find
    from ..services.sightings import enrol_group
    from .options import people_of

    store, embedder, clusters, _ = _clusters(history, registry, model, device, merge)
    try:
        done = enrol_group(people_of(registry, embedder=embedder), store, find(clusters, group), name, add=add, force=force)
    finally:
        store.close()
    ui.info(f"{done['name']}: enrolled from {counted(done['added'], 'face')} ({counted(done['total'], 'sample')} in all); "
            f"the name is on {counted(done['sightings'], 'sighting')} now")


@unknowns_app.command("forget")
def unknowns_forget(
    group: Annotated[Optional[int], typer.Argument(help="The group's id, as 'facecam unknowns' lists it.")] = None,
    all_groups: Annotated[bool, typer.Option("--all", help="Every unknown sighting, in every group.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    merge: MergeOpt = None,
    history: HistoryOpt = None,
    registry: RegistryOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Erase a group's sightings and their faces from the history (or every unknown one with --all)."""

    from ..history.unknowns import find

    if (group is None) == (not all_groups):
        raise typer.BadParameter("name one GROUP, or --all", param_hint="GROUP")
    if all_groups:
        from .options import open_history

        store = open_history(history, registry)
        ids = [r["id"] for r in store.sightings(unknown=True)]
        what = f"all {counted(len(ids), 'unknown sighting')}"
    else:
        store, _, clusters, _ = _clusters(history, registry, model, device, merge)
        ids = [r["id"] for r in find(clusters, group).rows]
        what = f"group {group}: {counted(len(ids), 'sighting')}"
    try:
        confirm(f"Erase {what} and their faces?", yes)
        erased = store.erase_sightings(ids)
    finally:
        store.close()
    ui.info(f"erased {counted(erased, 'sighting')} and their faces")
