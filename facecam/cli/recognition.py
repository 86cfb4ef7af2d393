"""`facecam recognize`: name the enrolled people live, in a window or headless."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import ui
from ..errors import FacecamError, UsageError
from ..validate import hide_password
from ..words import counted
from .options import HeadlessOpt, MaxFramesOpt, live_options, progress

app = typer.Typer()


@app.command()
@live_options(reconnect="3", default_camera=True,
              camera_help="Camera index; repeat for several cameras (with --source too) [default: 0 when there is no --source].",
              source_help="A video file, stream URL or folder of images; repeat for several, each optionally named: door=rtsp://...")
def recognize(
    settings,
    headless: HeadlessOpt = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON line per recognition event, then a summary line.")] = False,
    output: Annotated[Optional[Path], typer.Option(help="Write the annotated video to this .mp4 file.")] = None,
    max_frames: MaxFramesOpt = None,
) -> None:
    """Name the enrolled people in front of the camera (or in a video), live, and keep a history of
    who was seen when (see 'facecam history'). Q quits."""
    from .. import capture, live
    from ..notify import JsonLines
    from ..observe import MatchEvents
    from ..registry import exists
    from ..services.live import Live, unsaved_message
    from ..sources import Sources

    if output is not None and output.suffix.lower() != ".mp4":
        raise typer.BadParameter("the annotated video is written as .mp4", param_hint="--output")
    if output is not None:
        live.VideoOut.check(output)  # before anything runs: a run that cannot write its video stores nothing
    if not headless:
        capture.check_display()
    if not exists(settings.registry):
        raise UsageError(f"{hide_password(str(settings.registry))}: no registry here; enrol people first "
                         "(facecam register --name NAME)")
    on_stored = (lambda rows: [ui.json_line({"sighting": row}) for row in rows]) if json_out else None
    with Live(settings, warn=ui.warn, info=ui.info, sinks=(JsonLines(ui.json_line),) if json_out else (),
              on_stored=on_stored) as session:
        if not session.people.registry().identities:
            ui.warn(f"{hide_password(str(settings.registry))}: nobody is enrolled; every face is unknown")
        sources, several = session.sources, len(session.sources) > 1
        observers = [session.observers(s, MatchEvents(ui.json_line, s.name if several else None) if json_out else None)
                     for s in sources]
        run = {"headless": headless, "output": output, "max_frames": max_frames, "writer": session.writer}
        if several:
            frames = Sources(sources)
            loop, summary = live.recognize_many(frames, [session.recognizer(spec) for spec in settings.sources], observers=observers, **run)
        else:
            frames = sources[0]
            # a file read headless: how far it is and how long is left (on a terminal only)
            bar, report = progress(headless and not json_out and frames.length is not None,
                                   ui.short_source(frames.name), unit="frames")
            with bar:
                loop, summary = live.recognize(frames, session.recognizer(settings.sources[0]), observers=observers[0], **run,
                                               on_frame=lambda done: report(done, frames.length))
    writer = session.writer
    if writer is not None:
        summary["history"] = {"where": session.history.where, "sightings": writer.stored, "unsaved": session.unsaved}
        if session.unsaved:
            ui.error(unsaved_message(session))
    _report(summary, frames, several, json_out)
    if output is not None:
        note = live.codec()[1]
        ui.info(f"annotated video: {output}" + (f" ({note})" if note else ""))
    if writer is not None and not json_out:
        ui.info(f"history: {counted(writer.stored, 'sighting')} stored in {session.history.where}")
    if loop.reason == capture.STOPPED:
        failures = frames.failures if several else [frames.failure]
        raise FacecamError("; ".join(f for f in failures if f) or f"{frames.name} stopped delivering frames")
    if loop.interrupted:
        raise typer.Exit(130)


def gate_words(motion: dict) -> str:
    """What the motion gate did, in a line."""
    followed = (f"; faces followed without the detector in {motion['followed']} of {counted(motion['frames'], 'frame')}"
                if motion["followed"] else "")
    if motion["gated"]:
        return (f"motion gate: the detector rested on {motion['gated']} of {counted(motion['frames'], 'frame')} "
                f"(a still picture, nobody tracked){followed}")
    if followed:
        return f"motion gate: never closed{followed}"
    return "motion gate: never closed (the picture moved, or someone was tracked, in every frame)"


def _report(summary: dict, frames, several: bool, json_out: bool) -> None:
    """The summary: a JSON line, or what was read and how fast, then who was seen when as a table."""

    if json_out:
        ui.json_line({"summary": summary})
        return
    name = ", ".join(ui.short_source(s["source"]) for s in summary["sources"]) if several else ui.short_source(frames.name)
    ui.info(f"{name}: {counted(summary['frames'], 'frame')} in {summary['seconds']:.1f} s "
            f"({summary['fps']} frames/s); {counted(summary['unknown_tracks'], 'unknown face track')}")
    for each in summary.get("sources", [summary]):
        stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in each["ms_per_frame"].items())
        ui.info(f"{ui.short_source(each['source']) + ': ' if several else ''}ms per frame: {stages}")
        if each["motion"] is not None:
            ui.info(f"{ui.short_source(each['source']) + ': ' if several else ''}{gate_words(each['motion'])}")
    ui.table(None, (["source"] if several else []) + ["name", "first seen (s)", "last seen (s)", "frames"],
             [([ui.short_source(p["source"])] if several else []) + [p["name"], f"{p['first']:.2f}", f"{p['last']:.2f}",
                                                                     p["frames"]]
              for p in summary["people"]], empty="nobody enrolled was seen")
