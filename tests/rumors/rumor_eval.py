"""The evaluation set (our own wording of published COVID-19 claim themes, with our own paraphrases)."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).parent / "data" / "eval_claims.jsonl"


def load() -> tuple[list[dict[str, object]], list[str], list[str], list[int]]:
    """(rows, claims, queries, gold claim position of every query)."""
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    claims = [str(r["claim"]) for r in rows]
    queries: list[str] = []
    gold: list[int] = []
    for i, r in enumerate(rows):
        for p in r["paraphrases"]:  # type: ignore[attr-defined]
            queries.append(str(p))
            gold.append(i)
    return rows, claims, queries, gold


def topk_accuracy(results: list[list[tuple[int, float]]], gold: list[int], k: int) -> float:
    return sum(1 for r, g in zip(results, gold, strict=True) if g in [c for c, _ in r[:k]]) / len(gold)
