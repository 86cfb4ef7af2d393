"""Errors that reach the user: each carries a one-line message, the process exit code, and the
ways to proceed, which each front end words in its own terms.

The library says what happened; how to proceed is a Remedy: a setting to change (`force`, which
the command line shows as `--force` and the HTTP API as `force=true`) or a command to run. So an
error raised deep in enrolment reads right in a terminal, in a browser and in a Python program.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Remedy:
    """One way to proceed. option: the setting, by its library name (`force`, `keep_crops`), with
    the value to give it (None: switched on); command: a facecam command to run instead."""

    does: str  # what it does, in a few words: "enrols anyway"
    option: str | None = None
    value: str | None = None
    command: str | None = None


class FacecamError(Exception):
    """A failure the user can act on. `message` says what happened; `param` names the setting it
    is about (shown before the message), `remedies` how to proceed. str(err) names the settings as
    the library and the HTTP API do (force=true); `worded(err, flags=True)` as the command line
    does (--force)."""

    exit_code = 1

    def __init__(self, message: str = "", *remedies: Remedy, param: str | None = None):
        super().__init__(message)
        self.message, self.remedies, self.param = message, remedies, param

    def __str__(self) -> str:
        return worded(self)


def worded(err: FacecamError, *, flags: bool = False) -> str:
    """The error's one line, with its settings as command-line flags (--model sface) or as
    parameters (model=sface)."""
    def setting(option: str, value: str | None) -> str:
        if flags:
            return f"--{option.replace('_', '-')}" + ("" if value is None else f" {value}")
        return f"{option}={'true' if value is None else value}"

    text = err.message
    if err.param is not None:
        text = f"{setting(err.param, None).partition('=')[0]}: {text}"
    ways = [f"run 'facecam {r.command}' {r.does}" if r.command else f"{setting(r.option, r.value)} {r.does}"
            for r in err.remedies]
    return text + (f" ({', '.join(ways)})" if ways else "")


class UsageError(FacecamError):
    """The command line asks for something that cannot work (exit code 2)."""

    exit_code = 2


class ConflictError(UsageError):
    """The request clashes with what is enrolled: a name taken, a face that is someone else's."""


class NotFoundError(UsageError):
    """No one by that name is enrolled."""


class InputError(FacecamError):
    """An image, video or camera could not be read."""


class WeightsError(FacecamError):
    """A weight file is missing, corrupt, or not the network it claims to be."""


class DeviceError(FacecamError):
    """The requested compute device or camera is not available."""


class HistoryError(FacecamError):
    """The history database cannot be opened, read or written."""


class NotifyError(FacecamError):
    """An MQTT broker or webhook receiver could not be reached or refused an event."""
