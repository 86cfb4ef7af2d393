"""The version, apart from the package facade so that any module can say it without importing
everything the facade offers."""

__version__ = "0.1.0"
