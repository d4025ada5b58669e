"""Accord: multi-level pandemic response coordination."""

__version__ = "0.1.0"
