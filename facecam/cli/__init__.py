"""The `facecam` command: one small module per command group, each a thin adapter over the
application layer (facecam.services) and the library: parse options, call one use case, print.
torch, OpenCV and NumPy are imported inside the commands, so `facecam --help` stays fast."""

from __future__ import annotations

import os
import signal
import sys
import threading
import warnings

import typer

from .. import ui
from ..errors import FacecamError, worded
from .app import app


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors on stderr, exit 1 for failures, 2 for usage errors."""
    # A process started in the background (or by a runner) inherits SIGINT as ignored; Ctrl-C and
    # `kill -INT` must still stop facecam cleanly.
    if threading.current_thread() is threading.main_thread():  # only it may set handlers (and receives signals)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # OpenCV's own logging (camera probing, FFmpeg) would bury the one-line error under its lines.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    warnings.filterwarnings("ignore", message=".*decompression bomb")  # facecam checks image sizes itself
    try:
        code = app(args=argv, prog_name="facecam", standalone_mode=False)
    except FacecamError as err:
        ui.error(worded(err, flags=True))
        code = err.exit_code
    except (typer.Abort, KeyboardInterrupt):
        ui.error("interrupted")
        code = 130
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        ui.error(f"{where}{err.strerror or err}")
        code = 1
    except Exception as err:
        code = _unexpected(err)
    if code == 130:  # Ctrl-C, turned into an exit code by Typer
        ui.error("interrupted")
    sys.exit(code if isinstance(code, int) else 0)


def _unexpected(err: Exception) -> int:
    if hasattr(err, "format_message") and hasattr(err, "exit_code"):  # Typer's usage errors
        ctx = getattr(err, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        ui.error(err.format_message() + hint)
        return err.exit_code
    if os.environ.get("FACECAM_DEBUG"):
        raise err
    ui.error(f"internal error: {type(err).__name__}: {err} (set FACECAM_DEBUG=1 for the traceback)")
    return 1
