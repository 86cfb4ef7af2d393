"""Errors that reach the user: each carries a one-line message and the process exit code."""


class FacecamError(Exception):
    """A failure the user can act on. `str(err)` is the one-line message shown on stderr."""

    exit_code = 1


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
