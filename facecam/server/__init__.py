"""`facecam serve`: the recognition pipeline and the registry behind an HTTP API (FastAPI)."""

from .app import Service, create_app
from .history import Events
from .stream import LiveStream

__all__ = ["Events", "LiveStream", "Service", "create_app"]
