"""Faces grouped by person: `facecam cluster` (a folder of photos) and `facecam unknowns` (the
faces nobody enrolled, from the history: list, contact sheet, enrol, forget)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import config, ui
from .app import app
from .options import DeviceOpt, JsonOpt, ModelOpt, build_detector, progress

MergeOpt = Annotated[Optional[float], typer.Option(
    "--merge", min=0.0, max=1.0,
    help="Score (the calibrated scale) two groups' faces must reach on average to be one person [default: 0.7]; "
         "higher keeps different people apart more surely, and splits one person more often.")]


@app.command()
def cluster(
    photos: Annotated[list[Path], typer.Argument(help="Photos, or folders searched recursively for photos.")],
    out: Annotated[Path, typer.Option("--out", help="The folder to write: one sub-folder per person (must not exist, or be empty).")],
    min_size: Annotated[int, typer.Option(min=1, help="Faces a group needs to get its own folder; the faces of smaller ones are listed as fitting no group.")] = 2,
    link: Annotated[bool, typer.Option("--link/--copy", help="Symbolic links to the photos instead of copies [default: copies].")] = False,
    merge: MergeOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="Print the index (index.json) on stdout.")] = False,
) -> None:
    """Group the faces of a photo folder by person: one sub-folder of photos per person, and
    OUT/index.json (each face's photo, box and group; faces that fit no group; photos with none)."""
    import json

    from .. import sources
    from ..clustering import MERGE_SCORE, cluster as group, photo_faces, sized_groups, write_groups
    from ..errors import UsageError
    from ..models import load_embedder
    from ..storage import atomic_write

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: exists and is not an empty folder; facecam cluster writes a new one")
    files = sources.list_images(photos)
    if not files:
        raise UsageError("no photos found in " + ", ".join(map(str, photos)))
    detector = build_detector(None, None, device, config.DETECT_THRESHOLD, config.DETECT_MAX_SIZE)
    embedder = load_embedder(model, device=device)
    bar, report = progress(not json_out, "finding faces")
    with bar:
        faces, vectors, unreadable = photo_faces(files, detector, embedder, progress=report)
    for photo, reason in unreadable:
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
    ui.info(f"{len(faces)} face(s) in {len(files)} photo(s): {len(entries)} group(s) in {out}, {ungrouped} face(s) "
            f"in no group (fewer than {min_size} alike), {len(index['no_face'])} photo(s) without a face; "
            f"index: {out / 'index.json'}")

