"""Tables of the policy capability."""

from __future__ import annotations
