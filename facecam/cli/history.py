"""Who was seen when: `facecam history` (list, prune, export) and `facecam report attendance`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import ui
from ..words import counted
from .options import (DeviceOpt, HistoryOpt, JsonOpt, ModelOpt, RegistryOpt, build_detector, embedder_for, open_history,
                      people_of, registry_path)

history_app = typer.Typer(help="Who was seen when: list sightings, prune them, export one person's.",
                          invoke_without_command=True)
report_app = typer.Typer(help="Reports over the history.", no_args_is_help=True)

SinceOpt = Annotated[Optional[str], typer.Option(help="From this time: 2026-12-01, 2026-12-01T08:00, 2h, 3d, today, yesterday.")]
UntilOpt = Annotated[Optional[str], typer.Option(help="Up to this time (same forms).")]
TABLE_ROWS = 100  # the table's default length; --json and --csv list everything unless --limit


def _time(text: str | None, option: str) -> float | None:
    from ..history import BadTime, parse_time

    if text is None:
        return None
    try:
        return parse_time(text)
    except BadTime as err:
        raise typer.BadParameter(str(err), param_hint=option) from None


def parse_period(since: str | None, until: str | None) -> tuple[float | None, float | None]:
    return _time(since, "--since"), _time(until, "--until")


def _local(seconds: float | None) -> str:
    from ..history import local_time

    return local_time(seconds)


def _nobody(start, end, name, unknown, source) -> str:
    """The one line `facecam history` prints when nothing matches."""
    who = f"{name} was not seen" if name else "no unknown face was seen" if unknown else "nobody was seen"
    where = f" on {source}" if source else ""
    if start is None and end is None:
        return f"{who}{where}"
    return f"{who}{where} from {_local(start) if start is not None else 'the start'} to " \
           f"{_local(end) if end is not None else 'now'}"


def local_iso(text: str) -> str:
    """An ISO 8601 UTC time as the tables show times: local."""
    from ..history import from_iso

    return _local(from_iso(text))


@history_app.callback()
def history(
    ctx: typer.Context,
    since: SinceOpt = None,
    until: UntilOpt = None,
    name: Annotated[Optional[str], typer.Option(help="Only this person's sightings.")] = None,
    unknown: Annotated[bool, typer.Option("--unknown", help="Only the sightings of faces nobody enrolled.")] = False,
    source: Annotated[Optional[str], typer.Option(help="Only this source's (a camera, file or URL, as listed).")] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help=f"At most N, newest first [default: {TABLE_ROWS} in the table, all with "
        "--json/--csv].")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per sighting on stdout.")] = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
    history: HistoryOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """The sightings kept by recognize and serve: who, where, from when to when, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    if json_out and csv_out:
        raise typer.BadParameter("choose one of --json and --csv", param_hint="--csv")
    if name is not None and unknown:
        raise typer.BadParameter("--name and --unknown exclude each other", param_hint="--unknown")
    import sys

    from ..history import public
    from ..history.report import write_csv

    start, end = _time(since, "--since"), _time(until, "--until")  # usage errors before the database is opened
    store = open_history(history, registry)
    shown = limit if limit is not None or json_out or csv_out else TABLE_ROWS
    rows = store.sightings(since=start, until=end, name=name, unknown=unknown, source=source, limit=shown)
    if json_out:
        for row in rows:
            ui.json_line(public(row))
    elif csv_out:
        write_csv([public(row) for row in rows], sys.stdout)
    else:
        ui.table(None, ["id", "start (local)", "seconds", "source", "name", "frames", "score"],
                 [[r["id"], _local(r["started_at"]), f"{r['ended_at'] - r['started_at']:.1f}", ui.short_source(r["source"]),
                   r["name"] or "unknown", r["frames"], f"{r['best_score']:.2f}"] for r in rows],
                 whole=("start (local)", "name"), shared=("source",), empty=_nobody(start, end, name, unknown, source))
        if shown is not None and len(rows) == shown:
            ui.info(f"the newest {shown} shown; --limit N for more")
    store.close()


@history_app.command("prune")
def history_prune(
    before: Annotated[str, typer.Option(help="Delete the sightings that ended before this time (2026-11-01, 30d, ...).")],
    unknown: Annotated[bool, typer.Option("--unknown", help="Only those of faces nobody enrolled.")] = False,
    history: HistoryOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Delete old sightings and their faces."""
    moment = _time(before, "--before")
    store = open_history(history, registry)
    count = store.prune(moment, unknown_only=unknown)
    store.close()
    ui.info(f"deleted {counted(count, 'unknown sighting' if unknown else 'sighting')} that ended before {_local(moment)}")


@history_app.command("export")
def history_export(
    name: Annotated[str, typer.Argument(help="The person whose data to export.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The .zip file to write.")],
    history: HistoryOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Everything facecam holds about one person, in one .zip (a subject-access request): their
    sightings (JSON and CSV), each sighting's face, their enrolment samples and face crops."""
    from ..services.sightings import export_person

    if output.suffix.lower() != ".zip":
        raise typer.BadParameter("the export is written as .zip", param_hint="--output")
    counts = export_person(people_of(registry, history), name, output)
    ui.info(f"{name}: {counted(counts['sightings'], 'sighting')}, {counted(counts['faces'], 'face')}, "
            f"{counted(counts['samples'], 'enrolment sample')} written to {output}")


@report_app.command("attendance")
def report_attendance(
    day: Annotated[Optional[str], typer.Option(help="One local day: 2026-12-01, today or yesterday [default: today].")] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    gap: Annotated[float, typer.Option(min=0, help="Sightings less than this many seconds apart count as one stretch of presence.")] = 300.0,
    json_out: JsonOpt = False,
    csv_file: Annotated[Optional[Path], typer.Option("--csv", help="Write the rows to this CSV file.")] = None,
    html_file: Annotated[Optional[Path], typer.Option("--html", help="Write a self-contained HTML report (faces included) to this file.")] = None,
    history: HistoryOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Per person and day: first and last seen, time present, sightings, sources."""
    from datetime import timedelta

    from ..history import BadTime, attendance, duration, from_iso, local_midnight, local_time, parse_day
    from ..history.report import render_html, write_csv
    from ..storage import atomic_write

    if day is not None and (since is not None or until is not None):
        raise typer.BadParameter("--day or --since/--until, not both", param_hint="--day")
    if day is not None or since is None:
        try:
            first = parse_day(day or "today")
        except BadTime as err:
            raise typer.BadParameter(str(err), param_hint="--day") from None
        start, end = local_midnight(first), local_midnight(first + timedelta(days=1))
        period, title = first.isoformat(), "attendance"  # the day is said once above the table
    else:
        start, end = _time(since, "--since"), _time(until, "--until")
        period = f"{_local(start)} to {_local(end) if end is not None else 'now'}"
        title = f"attendance, {period}"
    store = open_history(history, registry)
    rows = attendance(store.named_intervals(start, end), since=start, until=end, gap=gap)
    if html_file is not None:
        faces = store.best_faces(sorted({r["name"] for r in rows}), start, end)
        with atomic_write(html_file, "w") as f:
            f.write(render_html(rows, faces, period=period, gap=gap))
        ui.info(f"attendance report: {html_file}")
    store.close()
    if csv_file is not None:
        with atomic_write(csv_file, "w") as f:
            write_csv(rows, f)
        ui.info(f"attendance rows: {csv_file}")
    if json_out:
        for row in rows:
            ui.json_line(row)
    elif csv_file is None and html_file is None:
        ui.table(title, ["day", "name", "first seen", "last seen", "present", "sightings", "sources"],
                 [[r["day"], r["name"], local_time(from_iso(r["first_seen"]), "%H:%M:%S"),
                   local_time(from_iso(r["last_seen"]), "%H:%M:%S"),
                   duration(r["present_s"]), r["sightings"], ", ".join(map(ui.short_source, r["sources"]))] for r in rows],
                 shared=("day", "sources"), empty=f"nobody enrolled was seen, {period}")


@history_app.command("correct")
def history_correct(
    sighting: Annotated[int, typer.Argument(help="The sighting's id, as 'facecam history' lists it.")],
    not_name: Annotated[bool, typer.Option("--not-name", help="It was not the person it names: they are not given this face again.")] = False,
    name: Annotated[Optional[str], typer.Option(help="It was this person: the face is added to their samples.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Add the face even if it matches someone else enrolled.")] = False,
    history: HistoryOpt = None,
    registry: RegistryOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Correct who a sighting was. --not-name keeps its face as a negative sample of the person it
    named (a face nearer it than any of theirs is not given their name again) and makes it
    unknown; --name NAME adds its face to NAME's samples (and to the wrongly named person's
    negative samples) and renames it."""
    from ..services.sightings import correct

    if not_name == (name is not None):
        raise typer.BadParameter("say --not-name or --name NAME", param_hint="--not-name")
    store = open_history(history, registry)
    try:
        people = people_of(registry, embedder=embedder_for(registry_path(registry), model, device))
        done = correct(people, store, sighting, name=name, force=force)
    finally:
        store.close()
    was = "unknown" if done["was"] is None else ui.safe(done["was"])
    if done["now"] is None:
        ui.info(f"sighting {sighting}: not {was}; {was} is not given this face again")
    else:
        ui.info(f"sighting {sighting}: {ui.safe(done['now'])} (was {was}); the face is one of their samples now")


@history_app.command("search")
def history_search(
    photo: Annotated[Path, typer.Argument(help="A photo of the face to look for (one clear main face).")],
    top: Annotated[int, typer.Option(min=1, max=1000, help="How many sightings to list.")] = 10,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object per sighting on stdout.")] = False,
    history: HistoryOpt = None,
    registry: RegistryOpt = None,
    model: ModelOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Was this person here? The sightings (named or not) whose faces are nearest the face in
    PHOTO, best first, with their scores (the calibrated scale: 0.8 is the default threshold)."""
    from .. import config
    from ..history import public
    from ..services.sightings import search

    store = open_history(history, registry)
    try:
        people = people_of(registry, embedder=embedder_for(registry_path(registry), model, device))
        detector = build_detector(None, None, device, config.DETECT_THRESHOLD, config.DETECT_MAX_SIZE)
        found = search(people, store, photo, detector, top=top)
    finally:
        store.close()
    if json_out:
        for row, score in found:
            ui.json_line({**public(row), "score": score})
        return
    ui.table(None, ["id", "start (local)", "source", "name", "score"],
             [[r["id"], _local(r["started_at"]), ui.short_source(r["source"]), r["name"] or "unknown", f"{score:.3f}"]
              for r, score in found], whole=("start (local)", "name"), shared=("source",),
             empty="the history holds no faces")
