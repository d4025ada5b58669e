"""Transmission chains of a subtree read from the store: cases as nodes, contacts between them as edges,
clusters, directed transmissions, and their statistics (serial interval, offspring dispersion). The graph
numerics are pure, in :mod:`accord.tracing.chains` and :mod:`accord.tracing.offspring`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from accord.auth.roles import Actor, Role
from accord.places import service as places
from accord.surveillance import store
from accord.tracing import chains, offspring
from accord.tracing.access import PERSONAL, allow, audit


@dataclass
class ChainSet:
    """The cases of a subtree as a graph: nodes (pseudonymous, numbered), edges, clusters."""

    nodes: pd.DataFrame  # node, person_id, onset, report, classification, origin, residence, cluster
    edges: pd.DataFrame  # source, target (node numbers), setting, infector, last_exposure
    clusters: pd.DataFrame  # cluster, size, first_onset, last_onset, span_days, settings
    infector: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    infectee: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: component label of every node (clusters of any size, single cases included)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def chain_set(session: Session, root_code: str, min_size: int = 2, source: str | None = None) -> ChainSet:
    """Cases (not discarded) under ``root_code`` and the contacts between them; clusters are the connected
    components. Directed infector links are used as given; undirected links are directed by onset (earliest
    linked case with an earlier onset is the infector)."""
    root = places.get(session, root_code)
    params: dict[str, Any] = {"root": root.id}
    extra = ""
    if source:
        extra = " AND p.source = :source"
        params["source"] = source
    nodes = store.read_frame(
        session,
        "SELECT p.id AS person_id, MIN(c.onset_date) AS onset, MIN(c.report_date) AS report, "
        "MAX(c.classification) AS classification, MAX(c.origin) AS origin, j.code AS residence "
        "FROM tracing_case c JOIN tracing_person p ON p.id = c.person_id "
        "JOIN jurisdiction_closure k ON k.descendant_id = c.residence_id AND k.ancestor_id = :root "
        "JOIN jurisdiction j ON j.id = c.residence_id "
        f"WHERE c.classification <> 'discarded' AND p.merged_into_id IS NULL{extra} "
        "GROUP BY p.id, j.code ORDER BY p.id",
        params,
    ).drop_duplicates("person_id")
    nodes["node"] = np.arange(len(nodes), dtype=np.int64)
    node_of = pd.Series(nodes["node"].to_numpy(), index=nodes["person_id"].to_numpy())
    # only links between two cases: the planner turns each IN into one hashed set of case persons
    links = store.read_frame(
        session,
        "SELECT t.source_id, t.contact_id, t.setting, t.infector, t.last_exposure FROM tracing_contact t "
        "WHERE t.source_id IN (SELECT person_id FROM tracing_case) "
        "AND t.contact_id IN (SELECT person_id FROM tracing_case)",
    )
    links = links[links["source_id"].isin(node_of.index) & links["contact_id"].isin(node_of.index)]
    edges = pd.DataFrame(
        {
            "source": node_of.reindex(links["source_id"]).to_numpy(np.int64),
            "target": node_of.reindex(links["contact_id"]).to_numpy(np.int64),
            "setting": links["setting"].to_numpy(),
            "infector": links["infector"].astype(bool).to_numpy(),
            "last_exposure": links["last_exposure"].to_numpy(),
        }
    )
    onset = pd.to_datetime(nodes["onset"]).to_numpy("datetime64[D]")
    labels = chains.components(len(nodes), edges["source"].to_numpy(np.int64), edges["target"].to_numpy(np.int64))
    table = chains.cluster_table(
        labels, onset, edges["source"].to_numpy(np.int64), edges["setting"].to_numpy(object), min_size=min_size
    )
    cluster_of = pd.Series(table["cluster"].to_numpy(), index=table["label"].to_numpy())
    nodes["cluster"] = cluster_of.reindex(labels).fillna(0).astype(np.int64).to_numpy()
    infector, infectee = _transmissions(len(nodes), edges, onset)
    return ChainSet(nodes, edges, table.drop(columns=["label"]), infector, infectee, labels)


def _transmissions(n: int, edges: pd.DataFrame, onset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Directed infector links as given (several candidates for one infectee: the one with the earliest onset;
    an infector whose onset follows the infectee's stays: that is pre-symptomatic transmission); undirected
    contacts directed by onset where no named infector exists."""
    directed = edges[edges["infector"]].assign(onset=onset[edges.loc[edges["infector"], "source"].to_numpy(np.int64)])
    known = directed.sort_values(["target", "onset", "source"], na_position="last").drop_duplicates("target")
    undirected = edges[~edges["infector"]]
    a, b = chains.infector_by_earliest_onset(
        n, undirected["source"].to_numpy(np.int64), undirected["target"].to_numpy(np.int64), onset
    )
    keep = ~np.isin(b, known["target"].to_numpy())
    return (
        np.concatenate([known["source"].to_numpy(np.int64), a[keep]]),
        np.concatenate([known["target"].to_numpy(np.int64), b[keep]]),
    )


def chain_statistics(cs: ChainSet) -> dict[str, Any]:
    """Serial interval (onset differences of infector -> infectee pairs) and offspring dispersion k (negative
    binomial, maximum likelihood with a profile-likelihood interval) of a set of cases."""
    onset = pd.to_datetime(cs.nodes["onset"]).to_numpy("datetime64[D]")
    days = (onset[cs.infectee] - onset[cs.infector]).astype("timedelta64[D]").astype("float64")
    days[np.isnat(onset[cs.infectee]) | np.isnat(onset[cs.infector])] = np.nan
    si = chains.serial_interval(days)
    counts = chains.offspring_counts(len(cs.nodes), cs.infector)
    fit = offspring.fit_dispersion(counts) if len(counts) else None
    grouped = chains.count_clusters(cs.labels)
    return {
        "cases": len(cs.nodes),
        # groups of 2 or more linked cases; cases linked to nobody are counted apart, never as clusters
        "clusters": grouped.clusters,
        "cases_in_clusters": grouped.cases_in_clusters,
        "single_cases": grouped.single_cases,
        "largest_cluster": grouped.largest,
        "transmission_pairs": len(cs.infector),
        "serial_interval": si.__dict__,
        "offspring": None if fit is None else fit.__dict__,
        "offspring_distribution": np.bincount(counts).tolist() if len(counts) else [],
    }


def chains_for(session: Session, actor: Actor, root_code: str, min_size: int = 2) -> ChainSet:
    """The chains of a subtree for a reader: aggregates are not personal, so analysts may read them too;
    the public may not (they are not yet approved figures). Audited."""
    root = places.get(session, root_code)
    allow(session, actor, root.id, "read transmission chains", PERSONAL | {Role.ANALYST, Role.DPO})
    cs = chain_set(session, root_code, min_size)
    audit(session, actor, "tracing.chains.read", root_code, root.id, clusters=len(cs.clusters))
    return cs
