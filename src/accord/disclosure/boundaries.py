"""Map geometry without tiles: generated Voronoi cells, an equirectangular SVG projection, a grid cartogram.

Pure: plain values in, plain values out (GeoJSON dicts, SVG path strings, grid positions).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import Voronoi
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry

#: how much room the bounding box leaves around the outermost points, as a share of the spread
MARGIN = 0.08


def generate_voronoi_boundaries(places_frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """One GeoJSON polygon per place with ``lon``/``lat``: the Voronoi cell of its point among the places
    of the same ``level``, clipped to a box around all points. Places without coordinates get nothing."""
    frame = places_frame.dropna(subset=["lon", "lat"])
    if frame.empty:
        return {}
    xy = frame[["lon", "lat"]].to_numpy(dtype=float)
    bbox = _bbox(xy)
    out: dict[str, dict[str, Any]] = {}
    levels = frame["level"] if "level" in frame else pd.Series("", index=frame.index)
    for _, group in frame.groupby(levels.to_numpy(), sort=False):
        cells = voronoi_cells(group[["lon", "lat"]].to_numpy(dtype=float), bbox)
        for code, cell in zip(group["code"].astype(str), cells, strict=True):
            out[code] = mapping(cell)
    return out


def _bbox(xy: np.ndarray) -> tuple[float, float, float, float]:
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    pad = np.maximum((hi - lo) * MARGIN, 0.01)
    return float(lo[0] - pad[0]), float(lo[1] - pad[1]), float(hi[0] + pad[0]), float(hi[1] + pad[1])


def voronoi_cells(xy: np.ndarray, bbox: tuple[float, float, float, float]) -> list[Polygon]:
    """Voronoi cells of ``xy`` inside ``bbox``. Mirroring the points across the four sides of the box closes
    every original cell exactly on the box edge, so no cell is unbounded and no clipping guesswork is needed."""
    pts = _separate_duplicates(xy)
    x0, y0, x1, y1 = bbox
    mirrored = [
        pts,
        np.column_stack([2 * x0 - pts[:, 0], pts[:, 1]]),
        np.column_stack([2 * x1 - pts[:, 0], pts[:, 1]]),
        np.column_stack([pts[:, 0], 2 * y0 - pts[:, 1]]),
        np.column_stack([pts[:, 0], 2 * y1 - pts[:, 1]]),
    ]
    vor = Voronoi(np.vstack(mirrored))
    frame_box = box(*bbox)
    cells = []
    for i in range(len(pts)):
        region = vor.regions[vor.point_region[i]]
        poly = Polygon(vor.vertices[region]) if region and -1 not in region else Polygon()
        # the mirror makes cells close on the box already; intersecting removes rounding slivers
        cells.append(poly.buffer(0).intersection(frame_box))
    return cells


def _separate_duplicates(xy: np.ndarray) -> np.ndarray:
    """Qhull drops coincident points; nudge repeats apart (deterministically) so each place keeps a cell."""
    pts = xy.astype(float).copy()
    seen: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(pts):
        key = (round(float(x), 9), round(float(y), 9))
        k = seen.get(key, 0)
        seen[key] = k + 1
        if k:
            angle = k * 2.399963  # golden angle: repeats spiral out without colliding
            pts[i] += 1e-4 * math.sqrt(k) * np.array([math.cos(angle), math.sin(angle)])
    return pts


# ------------------------------------------------------------------------------------------- validation
def check_geometry(geometry: Mapping[str, Any]) -> str | None:
    """Why a GeoJSON geometry cannot be drawn as an area (None when it can)."""
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed input
        return f"not a valid GeoJSON geometry ({exc})"
    if not isinstance(geom, Polygon | MultiPolygon):
        return f"a boundary must be a Polygon or MultiPolygon, not {geom.geom_type}"
    if geom.is_empty:
        return "the boundary is empty"
    return None


# ----------------------------------------------------------------------------------------- projection
Projection = tuple[float, float, float, float, float]  # lon0, lat1, x-scale, y-scale, height


def projection_for(geometries: Iterable[BaseGeometry], width: float = 600.0) -> Projection:
    """Equirectangular projection fitted to the geometries, with longitude shrunk by cos(mid latitude)."""
    bounds = np.array([g.bounds for g in geometries if not g.is_empty])
    if len(bounds) == 0:
        return (0.0, 1.0, 1.0, 1.0, width)
    lon0, lat0 = bounds[:, 0].min(), bounds[:, 1].min()
    lon1, lat1 = bounds[:, 2].max(), bounds[:, 3].max()
    aspect = math.cos(math.radians((lat0 + lat1) / 2))
    span_x = max((lon1 - lon0) * aspect, 1e-9)
    scale = width / span_x
    height = max((lat1 - lat0) * scale, 1.0)
    return (float(lon0), float(lat1), float(scale * aspect), float(scale), float(height))


def svg_path(geometry: BaseGeometry, proj: Projection) -> str:
    """SVG path data of a (multi)polygon in projected pixels, one decimal (enough on screen, small HTML)."""
    lon0, lat1, sx, sy, _ = proj
    polys = list(geometry.geoms) if isinstance(geometry, MultiPolygon) else [geometry]
    parts = []
    for poly in polys:
        if not isinstance(poly, Polygon) or poly.is_empty:
            continue
        for ring in [poly.exterior, *poly.interiors]:
            coords = np.asarray(ring.coords)
            xs, ys = (coords[:, 0] - lon0) * sx, (lat1 - coords[:, 1]) * sy
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
            parts.append(f"M{pts}Z")
    return "".join(parts)


def simplify_for_screen(geometry: BaseGeometry, proj: Projection, pixels: float = 0.7) -> BaseGeometry:
    """Drop detail below ``pixels`` on screen: real boundaries have far more vertices than a page needs."""
    return geometry.simplify(pixels / max(proj[3], 1e-9), preserve_topology=True)


# ------------------------------------------------------------------------------------------ cartogram
def grid_cartogram(xy: Sequence[tuple[float, float]] | np.ndarray) -> list[tuple[int, int]]:
    """Give each point its own square of a near-square grid, keeping the geographic arrangement: points in
    order of distance from the centre take the free cell nearest their scaled position. Rows count down
    from the north. Points may be NaN (no coordinates): they fill the remaining cells in order."""
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    n = len(pts)
    if n == 0:
        return []
    cols = max(1, math.ceil(math.sqrt(n * 1.3)))
    rows = max(1, math.ceil(n / cols))
    known = ~np.isnan(pts).any(axis=1)
    target = np.zeros((n, 2))
    if known.any():
        lo, hi = pts[known].min(axis=0), pts[known].max(axis=0)
        span = np.where(hi - lo > 0, hi - lo, 1.0)
        target[known, 0] = (pts[known, 0] - lo[0]) / span[0] * (cols - 1)
        target[known, 1] = (hi[1] - pts[known, 1]) / span[1] * (rows - 1)
    free = [(c, r) for r in range(rows) for c in range(cols)]
    out: list[tuple[int, int]] = [(0, 0)] * n
    centre = target[known].mean(axis=0) if known.any() else np.zeros(2)
    order = sorted(range(n), key=lambda i: (not known[i], float(np.hypot(*(target[i] - centre))), i))
    for i in order:
        if known[i]:
            j = min(range(len(free)), key=lambda k: (free[k][0] - target[i, 0]) ** 2 + (free[k][1] - target[i, 1]) ** 2)
        else:
            j = 0
        out[i] = free.pop(j)
    return out
