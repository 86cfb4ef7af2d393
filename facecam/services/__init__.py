"""The application layer: each use case once, for the commands, the HTTP API and the FaceCam
object, which only translate their own inputs and outputs. people: enrol, recognise an image,
list, rename, erase; sightings: what takes the registry and the history together; live: a
recognising process built from its settings."""

from .people import Enrolled, Erased, Identified, People

__all__ = ["Enrolled", "Erased", "Identified", "People"]
