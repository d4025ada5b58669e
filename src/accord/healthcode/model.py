"""Tables of the healthcode capability."""

from __future__ import annotations
