"""What the overview's map draws: a choropleth of stored boundaries, or a grid cartogram where none are
stored. Pure: plain items in, shapes with SVG path data and colour classes out; the template draws them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shapely.geometry import shape

from accord.disclosure import boundaries

#: 7-day new cases per 100k: fixed bins, so colours mean the same on every page and every day
BINS = (0.0, 1.0, 10.0, 50.0, 100.0, 250.0)
WIDTH = 600.0
CELL = 60.0


@dataclass(frozen=True)
class Item:
    code: str
    label: str
    value: float | None  # what the colour shows
    boundary: dict[str, Any] | None
    lon: float | None
    lat: float | None


@dataclass(frozen=True)
class Shape:
    code: str
    label: str
    value: float | None
    colour: int  # 0 = no data, 1..len(BINS) = bins
    path: str = ""  # choropleth
    x: float = 0.0  # cartogram square
    y: float = 0.0


@dataclass(frozen=True)
class MapView:
    kind: str  # "choropleth", "cartogram" or "none"
    width: float
    height: float
    shapes: tuple[Shape, ...]


def colour_class(value: float | None) -> int:
    if value is None:
        return 0
    return sum(1 for b in BINS if value >= b)


def build(items: list[Item]) -> MapView:
    if not items:
        return MapView("none", 0, 0, ())
    drawable = [(i, shape(i.boundary)) for i in items if i.boundary and boundaries.check_geometry(i.boundary) is None]
    if drawable:
        return _choropleth(drawable)
    return _cartogram(items)


def _choropleth(drawable: list[tuple[Item, Any]]) -> MapView:
    proj = boundaries.projection_for([g for _, g in drawable], WIDTH)
    shapes = tuple(
        Shape(
            i.code,
            i.label,
            i.value,
            colour_class(i.value),
            path=boundaries.svg_path(boundaries.simplify_for_screen(g, proj), proj),
        )
        for i, g in drawable
    )
    return MapView("choropleth", WIDTH, round(proj[4], 1), shapes)


def _cartogram(items: list[Item]) -> MapView:
    xy = [(i.lon if i.lon is not None else float("nan"), i.lat if i.lat is not None else float("nan")) for i in items]
    cells = boundaries.grid_cartogram(xy)
    cols = max(c for c, _ in cells) + 1
    rows = max(r for _, r in cells) + 1
    shapes = tuple(
        Shape(i.code, i.label, i.value, colour_class(i.value), x=c * CELL, y=r * CELL)
        for i, (c, r) in zip(items, cells, strict=True)
    )
    return MapView("cartogram", cols * CELL, rows * CELL, shapes)
