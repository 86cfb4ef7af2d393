"""`facecam recognize`: name the enrolled people live, in a window or headless."""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import config, ui
from ..errors import FacecamError, UsageError
from .app import app
from .options import (AwayAfterOpt, BackboneOpt, CameraFpsOpt, CamerasOpt, CameraSizeOpt, DetectorOpt,
                      DetectThresholdOpt, DeviceOpt, FourccOpt, HeadlessOpt, HistoryOpt, MaxFramesOpt, MaxSizeOpt, ModelOpt,
                      MqttCaOpt, MqttDiscoveryOpt, MqttOpt, NoHistoryOpt, RealtimeOpt, ReconnectOpt, RegistryOpt,
                      RetentionOpt, RtspTransportOpt, SnapshotsOpt, SourcesOpt, ThresholdOpt, UnknownEveryOpt,
                      UnknownRetentionOpt, WebhookOpt, build_detector, check_threshold, embedder_for, history_writer,
                      notifier_for, open_source, registry_path, source_list)


@contextmanager
def closing(worker):
    """A history writer or notifier, closed on the way out (what is left stored or delivered as
    far as it can be)."""
    try:
        yield worker
    finally:
        if worker is not None:
            worker.close()


@app.command()
def recognize(
    camera: CamerasOpt = None,
    source: SourcesOpt = None,
    threshold: ThresholdOpt = None,
    headless: HeadlessOpt = False,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON line per recognition event, then a summary line.")] = False,
    output: Annotated[Optional[Path], typer.Option(help="Write the annotated video to this .mp4 file.")] = None,
    max_frames: MaxFramesOpt = None,
    realtime: RealtimeOpt = False,
    reconnect: ReconnectOpt = "3",
    rtsp_transport: RtspTransportOpt = "tcp",
    camera_size: CameraSizeOpt = None,
    camera_fps: CameraFpsOpt = None,
    fourcc: FourccOpt = None,
    registry: RegistryOpt = None,
    history: HistoryOpt = None,
    no_history: NoHistoryOpt = False,
    retention: RetentionOpt = None,
    retention_unknown: UnknownRetentionOpt = config.UNKNOWN_RETENTION_DAYS,
    mqtt: MqttOpt = None,
    mqtt_ca: MqttCaOpt = None,
    mqtt_discovery: MqttDiscoveryOpt = "homeassistant",
    snapshots: SnapshotsOpt = False,
    webhook: WebhookOpt = None,
    away_after: AwayAfterOpt = config.AWAY_AFTER,
    unknown_every: UnknownEveryOpt = config.UNKNOWN_EVERY,
    model: ModelOpt = None,
    detect_threshold: DetectThresholdOpt = config.DETECT_THRESHOLD,
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    detector_backbone: BackboneOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Name the enrolled people in front of the camera (or in a video), live, and keep a history of
    who was seen when (see 'facecam history'). Q quits."""
    from .. import capture, live
    from ..history import Recorder
    from ..notify import JsonLines
    from ..pipeline import Recognizer
    from ..registry import INDEX, Registry
    from ..sources import Sources

    if output is not None and output.suffix.lower() != ".mp4":
        raise typer.BadParameter("the annotated video is written as .mp4", param_hint="--output")
    if not headless:
        capture.check_display()
    path = registry_path(registry)
    if not (path / INDEX).is_file():
        raise UsageError(f"{path}: no registry here; enrol people first (facecam register --name NAME)")
    embedder = embedder_for(path, model, device)
    check_threshold(threshold, embedder)
    reg = Registry.open(path, model=embedder.model_info)
    if not reg.identities:
        ui.warn(f"{path}: nobody is enrolled; every face is unknown")
    det = build_detector(detector, detector_backbone, device, detect_threshold, max_size)
    settings = {"reconnect": reconnect, "realtime": realtime, "rtsp_transport": rtsp_transport,
                "camera_size": camera_size, "camera_fps": camera_fps, "fourcc": fourcc}
    with ExitStack() as opened:
        sources = [opened.enter_context(open_source(cam if cam is not None else 0, src, name=label, **settings))
                   for label, cam, src in source_list(camera, source)]
        writer = None if no_history else opened.enter_context(closing(history_writer(
            history, path, retention=retention, unknown_retention=retention_unknown,
            on_stored=(lambda rows: [ui.json_line({"sighting": row}) for row in rows]) if json_out else None)))
        recorders = [None if writer is None else Recorder(writer, source=f.name, live=f.live, model=embedder.name)
                     for f in sources]
        notifier = opened.enter_context(closing(notifier_for(
            mqtt=mqtt, mqtt_ca=mqtt_ca, snapshots=snapshots, mqtt_discovery=mqtt_discovery, webhooks=webhook,
            away_after=away_after, unknown_every=unknown_every, embedder=embedder, registry=path,
            writer=writer, sinks=(JsonLines(ui.json_line),) if json_out else ())))
        watches = [None if notifier is None else notifier.watch(f.name, live=f.live, recorder=rec)
                   for f, rec in zip(sources, recorders)]
        on_event = ui.json_line if json_out else lambda event: None
        if len(sources) == 1:
            frames = sources[0]
            loop, summary = live.recognize(frames, Recognizer(det, embedder, reg, threshold), headless=headless,
                                           output=output, max_frames=max_frames, on_event=on_event, recorder=recorders[0],
                                           watch=watches[0])
        else:
            frames = Sources(sources)
            loop, summary = live.recognize_many(frames, [Recognizer(det, embedder, reg, threshold) for _ in sources],
                                                headless=headless, output=output, max_frames=max_frames,
                                                on_event=on_event, recorders=recorders, watches=watches)
    if writer is not None:
        summary["history"] = {"where": writer.history.where, "sightings": writer.stored, "unsaved": writer.unsaved}
        if writer.unsaved:
            ui.error(f"history {writer.history.where}: {writer.unsaved} sighting(s) could not be stored ({writer.error})")
    if json_out:
        ui.json_line({"summary": summary})
    else:
        several = len(sources) > 1
        ui.table(f"{frames.name}: {summary['frames']} frames in {summary['seconds']:.1f} s "
                 f"({summary['fps']} fps); {summary['unknown_tracks']} unknown face track(s)",
                 (["source"] if several else []) + ["name", "first seen (s)", "last seen (s)", "frames"],
                 [([p["source"]] if several else []) + [p["name"], f"{p['first']:.2f}", f"{p['last']:.2f}", p["frames"]]
                  for p in summary["people"]])
    if output is not None:
        ui.info(f"annotated video: {output}")
    if writer is not None and not json_out:
        ui.info(f"history: {writer.stored} sighting(s) stored in {writer.history.where}")
    if loop.reason == capture.STOPPED:
        failures = frames.failures if len(sources) > 1 else [frames.failure]
        raise FacecamError("; ".join(f for f in failures if f) or f"{frames.name} stopped delivering frames")
    if loop.interrupted:
        raise typer.Exit(130)
