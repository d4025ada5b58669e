"""Residences of imported cases onto jurisdictions (pure: dictionaries of the tree in, ids and how out).

In order: the code itself; the code's fallbacks from the mapping file (e.g. a Chinese county 340181 to its
prefecture 340100, then its province 340000); each place name given, most specific first, matched case-
insensitively on English or local names with the mapping's suffixes (' City', ' District') removed, when it
names exactly one jurisdiction inside the import's root. A row that none of these place is put at the root and
reported as unmapped with its line, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd


@dataclass(frozen=True)
class Placed:
    ids: npt.NDArray[np.int64]
    how: npt.NDArray[np.object_]  # 'code', 'code-fallback', 'name', 'unmapped'

    def unmapped_lines(self, lines: npt.NDArray[np.int64]) -> list[int]:
        return [int(x) for x in lines[self.how == "unmapped"]]


def place(
    codes: pd.Series,
    names: Sequence[tuple[str, ...]],
    by_code: dict[str, int],
    by_name: dict[str, list[int]],
    within: set[int],
    root_id: int,
    code_fallbacks: Sequence[str] = (),
    name_suffixes: Sequence[str] = (),
) -> Placed:
    """Jurisdiction id of every row; ``within`` is the set of ids under the import's root (inclusive)."""
    n = len(codes)
    ids = np.full(n, -1, dtype=np.int64)
    how = np.full(n, "unmapped", dtype=object)
    inside = {c: j for c, j in by_code.items() if j in within}
    text = codes.fillna("").astype(str).str.strip().str.removesuffix(".0")
    hit = text.map(inside)
    _take(ids, how, hit, "code")
    for pattern in code_fallbacks:
        todo = ids < 0
        if not todo.any():
            break
        fallback = text[todo].map(lambda c, p=pattern: _format(p, c)).map(inside)
        _take(ids, how, fallback.reindex(text.index), "code-fallback")
    unique_names = _unique_names(by_name, within, name_suffixes)
    for i in np.flatnonzero(ids < 0):
        for name in names[int(i)] if i < len(names) else ():
            found = unique_names.get(_fold(name, name_suffixes))
            if found is not None:
                ids[i], how[i] = found, "name"
                break
    ids[ids < 0] = root_id
    return Placed(ids, how)


def _take(ids: npt.NDArray[np.int64], how: npt.NDArray[np.object_], hit: pd.Series, label: str) -> None:
    values = hit.to_numpy(dtype="float64", na_value=np.nan)
    new = (ids < 0) & ~np.isnan(values)
    ids[new] = values[new].astype(np.int64)
    how[new] = label


def _format(pattern: str, code: str) -> str | None:
    if not code:
        return None
    try:
        return pattern.format(code=code)
    except (ValueError, KeyError, IndexError):
        return None


def _fold(name: str, suffixes: Sequence[str]) -> str:
    text = name.strip()
    for suffix in suffixes:
        if text.lower().endswith(suffix.lower()) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    return text.strip().casefold()


def _unique_names(by_name: dict[str, list[int]], within: set[int], suffixes: Sequence[str]) -> dict[str, int]:
    """Folded name -> id, for names that point to exactly one jurisdiction inside the root."""
    found: dict[str, set[int]] = {}
    for name, ids in by_name.items():
        key = _fold(name, suffixes)
        found.setdefault(key, set()).update(j for j in ids if j in within)
    return {k: next(iter(v)) for k, v in found.items() if len(v) == 1 and k}
