"""`facecam serve`: the HTTP API (and MJPEG stream) over the registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import config, ui
from ..errors import UsageError
from .app import app
from .options import (AwayAfterOpt, BackboneOpt, CameraFpsOpt, CameraSizeOpt, DetectorOpt, DeviceOpt, FourccOpt,
                      HistoryOpt, MaxSizeOpt, MqttCaOpt, MqttDiscoveryOpt, MqttOpt, NoHistoryOpt, RealtimeOpt, ReconnectOpt,
                      RegistryOpt, RetentionOpt, RtspTransportOpt, SnapshotsOpt, ThresholdOpt, UnknownEveryOpt,
                      UnknownRetentionOpt, WebhookOpt, build_detector, check_threshold, embedder_for, history_to_write,
                      notifier_for, open_source, registry_path, source_list)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on; another than localhost needs FACECAM_TOKEN.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    tls_cert: Annotated[Optional[Path], typer.Option(help="Serve HTTPS with this certificate (PEM; the browser's camera needs HTTPS on another machine than localhost).")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(help="The certificate's private key (PEM).")] = None,
    camera: Annotated[Optional[list[int]], typer.Option(min=0, max=63, help="Recognise on this camera, streamed at GET /stream; repeat for several.")] = None,
    source: Annotated[Optional[list[str]], typer.Option(help="Recognise on a video file (it replays), stream URL or folder of images; repeat for several, each optionally named (door=rtsp://...): GET /stream/{name}.")] = None,
    threshold: ThresholdOpt = None,
    realtime: RealtimeOpt = False,
    reconnect: ReconnectOpt = "forever",
    rtsp_transport: RtspTransportOpt = "tcp",
    camera_size: CameraSizeOpt = None,
    camera_fps: CameraFpsOpt = None,
    fourcc: FourccOpt = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest image upload, in MB.")] = 10.0,
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
    max_size: MaxSizeOpt = config.DETECT_MAX_SIZE,
    detector: DetectorOpt = None,
    detector_backbone: BackboneOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """The web page and HTTP API over the registry: recognise uploads, enrol (photos or the browser's
    camera), list, rename, delete; with a camera or source: an MJPEG stream, its sightings kept in
    the history and announced at /events."""
    from ..history import Writer
    from ..registry import EnrolledNames
    from ..server.policy import check_listen, check_tls, url

    try:
        import uvicorn

        from .. import server
    except ImportError as err:
        raise UsageError(f"facecam serve needs the serve extra ({err.name} is missing): pip install 'facecam[serve]'") from None
    token = os.environ.get("FACECAM_TOKEN") or None
    if not 0 < max_upload_mb <= 1000:
        raise typer.BadParameter("must be more than 0 and at most 1000", param_hint="--max-upload-mb")
    check_listen(host, port, token)
    tls = check_tls(tls_cert, tls_key)
    path = registry_path(registry)
    embedder = embedder_for(path, None, device)
    check_threshold(threshold, embedder)
    det = build_detector(detector, detector_backbone, device, config.DETECT_THRESHOLD, max_size)
    store = None if no_history else history_to_write(history, registry)
    service = server.Service(registry_path=path, detector=det, embedder=embedder, token=token, threshold=threshold,
                             max_upload_bytes=int(max_upload_mb * 1e6), history=store)
    live = bool(camera or source)
    if live and store is not None:
        service.writer = Writer(store, enrolled=EnrolledNames(path), on_stored=service.events.ended, warn=ui.warn,
                                retention=retention, unknown_retention=retention_unknown)
    settings = {"reconnect": reconnect, "realtime": realtime, "rtsp_transport": rtsp_transport,
                "camera_size": camera_size, "camera_fps": camera_fps, "fourcc": fourcc}

    def opener(label, cam, src):
        return lambda: open_source(cam if cam is not None else 0, src, name=label, **settings)

    specs = source_list(camera, source) if live else []
    if live:
        service.notifier = notifier_for(
            mqtt=mqtt, mqtt_ca=mqtt_ca, snapshots=snapshots, mqtt_discovery=mqtt_discovery, webhooks=webhook,
            away_after=away_after, unknown_every=unknown_every, embedder=embedder, registry=path,
            writer=service.writer, sinks=(service.events,))
    elif mqtt or webhook:
        raise UsageError("--mqtt and --webhook need a --camera or --source to watch")

    streams = []
    try:
        for spec in specs:
            streams.append(server.LiveStream.open(opener(*spec), service))
    except BaseException:
        for stream in streams:
            stream.stop()
        if service.notifier is not None:
            service.notifier.close(timeout=1)
        raise
    web = server.create_app(service, streams)
    ui.info(f"facecam serve: {url(host, port, tls=bool(tls))} (the page; API docs at /docs), registry {path}"
            + ("" if token else "; read-only: set FACECAM_TOKEN to allow changes"))
    try:
        # open /stream and /events responses would hold a graceful shutdown up for ever
        uvicorn.run(web, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3, **tls)
    finally:
        for stream in streams:
            stream.stop()
        if service.notifier is not None:
            service.notifier.close()
        if service.writer is not None:
            unsaved = service.writer.close()
            if unsaved:
                ui.error(f"history {store.where}: {unsaved} sighting(s) could not be stored ({service.writer.error})")
        elif store is not None:
            store.close()
