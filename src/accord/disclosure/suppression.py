"""Small-count suppression of published figures: which cells to withhold, and how to mark them.

Pure: numpy arrays in, numpy arrays out; no database, web or CLI code.

The rule (also in ``docs/disclosure.md``):

1. **Primary.** At jurisdictions of depth ``from_depth`` or deeper (the root is depth 0), a count of 1 to
   ``below - 1`` is withheld and shown as ``<below`` (e.g. ``<5``). Zeros are shown. A jurisdiction's parts
   (imported, local) share its fate: where any part is small, the total and every part are withheld.
2. **Complementary.** Every parent and its children form one equation (parent = sum of children), per day
   and indicator. No equation may hold exactly one withheld figure, or subtracting the shown ones from the
   shown total would give it back. Where one does, the smallest shown child is withheld too (ties: the
   first in code order), shown as ``x``; where no child is left, the parent is. This repeats until every
   equation holds none or at least two, so it runs down into subtrees (a withheld parent whose children
   are all shown would equal their sum) and up through single-child chains.
3. **Over time.** A sum over days (cumulative, 7-day totals, and what is derived from them: averages, per
   100k, growth, active) of a jurisdiction is shown only when none of the days it covers is withheld for
   that jurisdiction: then every shown figure is a sum of shown daily figures and discloses nothing more.

Because the equations form a tree, an equation with no single withheld figure can never be combined with
others to isolate one (a change of +1 on one withheld figure can always be balanced by -1 on another
withheld figure of each equation it appears in, without ever coming back). This protects against exact
recovery by arithmetic on the published figures; it does not give an interval of uncertainty: two
withheld cells that sum to 2 are both 1, so a reader who knows both are between 1 and 4 learns them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SHOWN, PRIMARY, COMPLEMENT = 0, 1, 2

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StatusArray = npt.NDArray[np.int8]


@dataclass(frozen=True)
class SuppressionPolicy:
    """Counts from 1 to ``below - 1`` at depth ``from_depth`` and deeper are withheld; ``below`` < 2 is off."""

    below: int = 0
    from_depth: int = 1

    @property
    def enabled(self) -> bool:
        return self.below >= 2

    def mark(self, status: int) -> str:
        """How a withheld figure reads on pages and in files."""
        return f"<{self.below}" if status == PRIMARY else "x"


OFF = SuppressionPolicy()


def primary(depth: IntArray, values: FloatArray, policy: SuppressionPolicy) -> npt.NDArray[np.bool_]:
    """Cells (rows: jurisdictions, columns: days) that are small counts at a suppressed depth."""
    if not policy.enabled:
        return np.zeros(values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        small = (values >= 1) & (values < policy.below)
    return small & (depth >= policy.from_depth)[:, None]


def children_of(parent: IntArray) -> dict[int, IntArray]:
    """Row indices of each node's children (``parent`` holds row indices, -1 for a root)."""
    out: dict[int, list[int]] = {}
    for i, p in enumerate(parent.tolist()):
        if p >= 0:
            out.setdefault(p, []).append(i)
    return {p: np.asarray(kids, dtype=np.int64) for p, kids in out.items()}


def plan(
    parent: IntArray,
    depth: IntArray,
    values: FloatArray,
    policy: SuppressionPolicy,
    sensitive: npt.NDArray[np.bool_] | None = None,
) -> StatusArray:
    """Status of every cell: SHOWN, PRIMARY or COMPLEMENT.

    ``parent`` and ``depth`` have one entry per jurisdiction (row); ``values`` is rows x columns (e.g. days of
    one indicator), NaN where nothing is published (known to add nothing to its parent: never chosen as a
    complement). ``sensitive`` adds primary cells found elsewhere (e.g. a small imported part). Rows should be
    in code order, so that ties are broken the same way every time.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != len(parent):
        raise ValueError("values must be jurisdictions x columns")
    status = np.zeros(values.shape, dtype=np.int8)
    if not policy.enabled or values.size == 0:
        return status
    first = primary(np.asarray(depth), values, policy)
    if sensitive is not None:
        first |= sensitive & (np.asarray(depth) >= policy.from_depth)[:, None]
    status[first] = PRIMARY
    groups = children_of(np.asarray(parent))
    available = np.isfinite(values)
    cost = np.where(available, values, np.inf)
    pending = set(groups)
    while pending:
        p = min(pending)
        pending.discard(p)
        kids = groups[p]
        hidden = (status[kids] != SHOWN).sum(axis=0) + (status[p] != SHOWN)
        need = np.flatnonzero(hidden == 1)
        if need.size == 0:
            continue
        candidates = np.where(status[kids][:, need] == SHOWN, cost[kids][:, need], np.inf)
        best = np.argmin(candidates, axis=0)
        found = np.isfinite(candidates[best, np.arange(need.size)])
        chosen = kids[best[found]]
        status[chosen, need[found]] = COMPLEMENT
        for child in set(chosen.tolist()):
            if child in groups:
                pending.add(child)
        up = need[~found]
        up = up[status[p, up] == SHOWN]
        if up.size:
            status[p, up] = COMPLEMENT
            pending.add(p)  # the parent's own children equation is satisfied already; its parent's is not
            if parent[p] >= 0:
                pending.add(int(parent[p]))
    return status


def group_states(statuses: list[StatusArray]) -> StatusArray:
    """The combined status of parts that share a fate: the strongest of each cell."""
    return np.maximum.reduce(statuses) if statuses else np.zeros((0, 0), dtype=np.int8)


def hidden_runs(status: StatusArray) -> IntArray:
    """Per row and column: how many withheld cells there are up to and including that column. A sum over
    columns a..b may be shown exactly when ``runs[:, b] - runs[:, a - 1] == 0``."""
    return np.cumsum(status != SHOWN, axis=1, dtype=np.int64)


def window_hidden(status: StatusArray, start: int, end: int) -> npt.NDArray[np.bool_]:
    """Per row: whether any cell in columns ``start..end`` (inclusive, clipped) is withheld."""
    lo, hi = max(start, 0), min(end, status.shape[1] - 1)
    if hi < lo:
        return np.zeros(status.shape[0], dtype=bool)
    return np.asarray((status[:, lo : hi + 1] != SHOWN).any(axis=1))
