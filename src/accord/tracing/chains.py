"""Transmission chains and clusters over arrays (pure: no database).

Nodes are persons numbered ``0..n-1``; an edge ``(a, b)`` links two persons (a contact or an infector link).
Clusters are the weakly connected components of that graph (``scipy.sparse.csgraph.connected_components``:
one pass over a CSR matrix, no Python loop per node). Serial intervals come from infector -> infectee pairs with
both onset dates known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.csgraph import connected_components

IntArray = npt.NDArray[np.int64]


def components(n: int, src: IntArray, dst: IntArray) -> IntArray:
    """Cluster label of each of ``n`` nodes: the weakly connected components of the edges ``src -> dst``."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = sparse.coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    _count, labels = connected_components(graph, directed=True, connection="weak")
    return np.asarray(labels, dtype=np.int64)


def cluster_table(
    labels: IntArray,
    onset: npt.NDArray[np.datetime64],
    edge_src: IntArray,
    edge_settings: npt.NDArray[np.object_],
    min_size: int = 2,
) -> pd.DataFrame:
    """One row per cluster of at least ``min_size`` persons: size, first and last onset, span in days and the
    settings of its exposures (sorted, ';'-joined). Cluster ids are renumbered by size (largest first)."""
    nodes = pd.DataFrame({"label": labels, "onset": pd.to_datetime(onset)})
    grouped = nodes.groupby("label")
    table = pd.DataFrame(
        {"size": grouped.size(), "first_onset": grouped["onset"].min(), "last_onset": grouped["onset"].max()}
    )
    # a whole number of days, or unknown (no onset known in the cluster): never a float NaN
    table["span_days"] = (table["last_onset"] - table["first_onset"]).dt.days.astype("Int64")
    if len(edge_src):
        settings = pd.DataFrame({"label": labels[edge_src], "setting": edge_settings})
        joined = settings.dropna().groupby("label")["setting"].agg(lambda s: ";".join(sorted(set(s))))
        table["settings"] = joined.reindex(table.index).fillna("")
    else:
        table["settings"] = ""
    table = table[table["size"] >= min_size].sort_values(["size", "first_onset"], ascending=[False, True])
    table.index.name = "label"
    table = table.reset_index()
    table.insert(0, "cluster", np.arange(1, len(table) + 1))
    return table


@dataclass(frozen=True)
class ClusterCount:
    """Clusters are groups of two or more linked cases; a case linked to no other is a single case, counted
    apart (a line list of mostly unlinked cases must not read as thousands of clusters)."""

    clusters: int
    cases_in_clusters: int
    single_cases: int
    largest: int


def count_clusters(labels: IntArray) -> ClusterCount:
    """Clusters (components of 2 or more cases) and single cases, from the component label of every case."""
    sizes = np.bincount(labels) if len(labels) else np.zeros(0, dtype=np.int64)
    sizes = sizes[sizes > 0]
    grouped = sizes[sizes >= 2]
    return ClusterCount(
        clusters=len(grouped),
        cases_in_clusters=int(grouped.sum()),
        single_cases=int((sizes == 1).sum()),
        largest=int(sizes.max()) if len(sizes) else 0,
    )


def offspring_counts(n: int, infector: IntArray) -> IntArray:
    """Number of secondary cases of each of ``n`` cases, from the infector index of every infectee."""
    return np.bincount(infector, minlength=n).astype(np.int64)


def generations(n: int, infector: IntArray, infectee: IntArray) -> IntArray:
    """Generation of each case in the infector forest (index cases 0); -1 where a cycle makes it undefined."""
    parent = np.full(n, -1, dtype=np.int64)
    parent[infectee] = infector
    gen = np.zeros(n, dtype=np.int64)
    current = parent.copy()
    for _ in range(n):  # pointer jumping would be faster; chains are short, so each step is one vector op
        has = current >= 0
        if not has.any():
            return gen
        gen[has] += 1
        current[has] = parent[current[has]]
    gen[current >= 0] = -1
    return gen


@dataclass(frozen=True)
class SerialInterval:
    pairs: int
    mean: float
    sd: float
    low: float  # 95% interval of the mean (t distribution)
    high: float


def serial_interval(days: npt.NDArray[np.float64]) -> SerialInterval:
    """Mean serial interval and its 95% confidence interval from the onset differences of pairs."""
    x = days[np.isfinite(days)]
    if len(x) < 2:
        return SerialInterval(len(x), float(x.mean()) if len(x) else float("nan"), float("nan"), np.nan, np.nan)
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    half = float(stats.t.ppf(0.975, len(x) - 1)) * sd / np.sqrt(len(x))
    return SerialInterval(len(x), mean, sd, mean - half, mean + half)


def infector_by_earliest_onset(
    n: int, src: IntArray, dst: IntArray, onset: npt.NDArray[np.datetime64]
) -> tuple[IntArray, IntArray]:
    """Direct undirected links: each case's infector is its linked case with the earliest onset strictly before
    its own (the rule Tindale et al. use for the Singapore links, which carry no direction). Returns the
    (infector, infectee) arrays; cases with no earlier linked case are index cases."""
    a = np.concatenate([src, dst])
    b = np.concatenate([dst, src])
    days = onset.astype("datetime64[D]").astype("float64")
    days[np.isnat(onset)] = np.nan
    ok = np.isfinite(days[a]) & np.isfinite(days[b]) & (days[a] < days[b]) & (a != b)
    frame = pd.DataFrame({"infector": a[ok], "infectee": b[ok], "onset": days[a[ok]]})
    best = frame.sort_values(["infectee", "onset", "infector"]).drop_duplicates("infectee")
    return best["infector"].to_numpy(np.int64), best["infectee"].to_numpy(np.int64)
