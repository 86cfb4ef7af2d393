"""Catalog of known weight files (catalog.json), shipped as package data."""
