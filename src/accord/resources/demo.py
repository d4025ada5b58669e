"""What the resources capability adds to the demo country."""

from __future__ import annotations

from accord.demo.context import DemoContext


def extend(ctx: DemoContext) -> list[str]:
    """Add this capability's demo data; return the summary lines to print."""
    return []
