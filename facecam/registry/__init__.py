"""The registry of enrolled people (format: registry/README.md at the top of the repository)."""

from .document import FORMAT, RegistryError, crop_path
from .exchange import copy, export, import_people, read_export
from .store import (BACKUP, INDEX, EnrolledNames, Match, Registry, collect, default_path, exists, now, per_identity_scores, place, reembed,
                    restore, stored_model, transaction)

__all__ = ["BACKUP", "EnrolledNames", "FORMAT", "INDEX", "Match", "Registry", "RegistryError", "collect", "copy", "crop_path",
           "default_path", "exists", "export", "import_people", "now", "per_identity_scores", "place", "read_export", "reembed",
           "restore", "stored_model", "transaction"]
