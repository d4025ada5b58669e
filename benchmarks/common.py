"""Helpers shared by the benchmarks: a synthetic tree of any size and timing utilities."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path | None:
    env = os.environ.get("ACCORD_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def synthetic_tree(provinces: int, cities_per_province: int, communities: int, seed: int = 1) -> pd.DataFrame:
    """country -> provinces -> cities -> communities, communities spread unevenly over cities."""
    rng = np.random.default_rng(seed)
    rows = [("BX", "Benchland", "country", "", 0)]
    cities = []
    for p in range(provinces):
        pcode = f"BX-{p:02d}"
        rows.append((pcode, f"Province {p}", "province", "BX", 0))
        for c in range(cities_per_province):
            ccode = f"{pcode}-{c:03d}"
            cities.append(ccode)
            rows.append((ccode, f"City {p}.{c}", "city", pcode, 0))
    owner = rng.choice(len(cities), size=communities)
    for i, k in enumerate(owner):
        rows.append((f"{cities[k]}-{i:05d}", f"Community {i}", "community", cities[k], int(rng.integers(2e3, 3e4))))
    return pd.DataFrame(rows, columns=["code", "name", "level", "parent_code", "population"]).assign(local_name="")


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    yield out
    out["seconds"] = time.perf_counter() - t0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
