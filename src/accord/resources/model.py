"""Tables of the resources capability."""

from __future__ import annotations
