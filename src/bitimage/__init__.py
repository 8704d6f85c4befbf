"""Bit-image: a self-hostable image repository service."""

__version__ = "0.1.0"
