"""Checksum lists shipped with the package (read with importlib.resources)."""
