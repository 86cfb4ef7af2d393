"""`facecam serve`: the HTTP API (and MJPEG stream) over the registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import ui
from ..errors import UsageError
from ..validate import hide_password
from .options import live_options

app = typer.Typer()


@app.command()
@live_options(reconnect="forever", default_camera=False,
              camera_help="Recognise on this camera, streamed at GET /stream; repeat for several.",
              source_help="Recognise on a video file (read once; --loop replays it), stream URL or folder of images; repeat for several, "
                          "each optionally named (door=rtsp://...): GET /stream/{name}.")
def serve(
    settings,
    host: Annotated[str, typer.Option(help="Interface to listen on; another than localhost needs FACECAM_TOKEN.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    tls_cert: Annotated[Optional[Path], typer.Option(help="Serve HTTPS with this certificate (PEM; the browser's camera needs HTTPS on "
        "another machine than localhost).")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(help="The certificate's private key (PEM).")] = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest image upload, in MB.")] = 10.0,
    token_file: Annotated[Optional[Path], typer.Option(exists=True, dir_okay=False, help="Read the token that allows changes "
        "from this file (instead of FACECAM_TOKEN: a secret kept out of the environment and the command line).")] = None,
    loop: Annotated[bool, typer.Option(help="Play a video file --source again each time it ends (a demo): a replay stores only the "
        "people earlier passes did not (someone enrolled meanwhile), and no unknown face again.")] = False,
) -> None:
    """The web page and HTTP API over the registry: recognise uploads, enrol (photos or the browser's
    camera), list, rename, delete; with a camera or source: an MJPEG stream, its sightings kept in
    the history and announced at /events."""
    from ..server.policy import check_listen, check_tls, url
    from ..services.live import Live, open_source, unsaved_message

    try:
        import uvicorn

        from .. import server
    except ImportError as err:
        raise UsageError(f"facecam serve needs the serve extra ({err.name} is missing): pip install 'facecam[serve]'") from None
    token = os.environ.get("FACECAM_TOKEN") or None
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"{token_file}: cannot be read ({getattr(err, 'strerror', None) or err})", param="token_file") from None
        if not token:
            raise UsageError(f"{token_file}: empty; it holds the token that allows changes", param="token_file")
    if not 0 < max_upload_mb <= 1000:
        raise typer.BadParameter("must be more than 0 and at most 1000", param_hint="--max-upload-mb")
    check_listen(host, port, token)
    tls = check_tls(tls_cert, tls_key)
    events = server.Events()
    with Live(settings, warn=ui.warn, info=ui.info, sinks=(events,), on_stored=events.ended, open_sources=False) as session:
        service = server.Service(registry_path=settings.registry, detector=session.detector, embedder=session.embedder,
                                 token=token, threshold=settings.threshold, max_upload_bytes=int(max_upload_mb * 1e6),
                                 history=session.history, events=events)
        streams = []
        try:
            for spec in settings.sources:
                streams.append(server.LiveStream.open(
                    lambda spec=spec: open_source(spec, settings.capture, warn=ui.warn, info=ui.info), session.recognizer(spec),
                    lambda source, replays: session.observers(
                        source, None if replays.replaying else events.starts(source.name, live=source.live), replays=replays),
                    loop=loop))
            web = server.create_app(service, streams)
            ui.info(f"facecam serve: {url(host, port, tls=bool(tls))} (the page; API docs at /docs), registry {hide_password(str(settings.registry))}"
                    + ("" if token else "; read-only: set FACECAM_TOKEN to allow changes"))
            # open /stream and /events responses would hold a graceful shutdown up for ever
            uvicorn.run(web, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3, **tls)
        finally:
            for stream in streams:
                stream.stop()
    if session.unsaved:
        ui.error(unsaved_message(session))
