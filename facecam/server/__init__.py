"""`facecam serve`: the recognition pipeline and the registry behind an HTTP API (FastAPI)."""

from .app import Service, create_app
from .stream import LiveStream

__all__ = ["LiveStream", "Service", "create_app"]
