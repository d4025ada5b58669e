"""Tables of the federation capability."""

from __future__ import annotations
