"""Rumor matcher: accuracy on our evaluation set against a plain keyword search, and speed at 100,000 claims.

Accuracy: every paraphrase in ``tests/rumors/data/eval_claims.jsonl`` (our own wording of published COVID-19
claim themes, English, Chinese and mixed) is matched against the set's claims; top-1 / top-5 = the share of
paraphrases whose claim is first / among the first five. The baseline is what a LIKE search does: rank claims by
how many of the message's words (Latin words, whole CJK runs) occur in them.

Scale: the claims are perturbed (typos, dropped and swapped words, extra words, numbers) into ``--claims``
registered claims; we time building the index and matching a stream of messages in batches (one sparse product
a batch) and one at a time; and report accuracy at that scale (a match with any perturbed copy of the right
claim counts, the copies being the same claim restated).

    uv run python benchmarks/rumor_matcher.py [--claims 100000] [--messages 5000] [--batch 500]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from accord.rumors import matcher
from common import machine, print_table, say, write_results

DATA = Path(__file__).resolve().parents[1] / "tests" / "rumors" / "data" / "eval_claims.jsonl"
FILLERS = ["today", "urgent", "please share", "my friend said", "doctor confirms", "转发", "紧急通知", "听说", "!!!"]


def load() -> tuple[list[dict[str, object]], list[str], list[str], list[int], list[str]]:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    claims = [str(r["claim"]) for r in rows]
    queries, gold, langs = [], [], []
    for i, r in enumerate(rows):
        for p in r["paraphrases"]:  # type: ignore[attr-defined]
            queries.append(str(p))
            gold.append(i)
            langs.append(str(r["lang"]))
    return rows, claims, queries, gold, langs


def accuracy(results: list[list[tuple[int, float]]], gold: list[int], k: int, pick: list[bool] | None = None) -> float:
    idx = [i for i in range(len(gold)) if pick is None or pick[i]]
    return sum(1 for i in idx if gold[i] in [c for c, _ in results[i][:k]]) / max(1, len(idx))


def perturb(text: str, rng: random.Random) -> str:
    """A restatement with noise: a typo, a dropped or swapped word, filler words and a number."""
    words = text.split() if " " in text else list(text)
    joiner = " " if " " in text else ""
    if len(words) > 3 and rng.random() < 0.5:
        del words[rng.randrange(len(words))]
    if len(words) > 3 and rng.random() < 0.5:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    out = joiner.join(words)
    if len(out) > 4 and rng.random() < 0.7:
        i = rng.randrange(len(out) - 1)
        out = out[:i] + out[i + 1] + out[i] + out[i + 2 :]
    return f"{out} {rng.choice(FILLERS)} {rng.randrange(100_000)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=100_000)
    ap.add_argument("--messages", type=int, default=5_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--single", type=int, default=200, help="messages matched one call each")
    args = ap.parse_args()

    _rows, claims, queries, gold, langs = load()
    say(f"evaluation set: {len(claims)} claims, {len(queries)} paraphrases")
    index = matcher.build_index(claims)
    ours = matcher.match_batch(index, queries, k=5)
    base = matcher.keyword_match_batch(claims, queries, k=5)
    groups = {"all": None, **{lang: [x == lang for x in langs] for lang in sorted(set(langs))}}
    acc: dict[str, dict[str, float]] = {}
    table = []
    for name, pick in groups.items():
        n = len(queries) if pick is None else sum(pick)
        entry = {
            "n": n,
            "tfidf_top1": accuracy(ours, gold, 1, pick),
            "tfidf_top5": accuracy(ours, gold, 5, pick),
            "keyword_top1": accuracy(base, gold, 1, pick),
            "keyword_top5": accuracy(base, gold, 5, pick),
        }
        acc[name] = entry
        table.append([name, n, *(f"{entry[k]:.3f}" for k in list(entry)[1:])])
    print_table(
        "accuracy on the evaluation set",
        ["queries", "n", "ours top-1", "ours top-5", "keyword top-1", "keyword top-5"],
        table,
    )

    rng = random.Random(7)
    big = list(claims)
    origin = list(range(len(claims)))
    while len(big) < args.claims:
        i = rng.randrange(len(claims))
        big.append(perturb(claims[i], rng))
        origin.append(i)
    t0 = time.perf_counter()
    big_index = matcher.build_index(big)
    build_s = time.perf_counter() - t0
    say(f"index of {len(big):,} claims built in {build_s:.2f} s ({len(big_index.vocabulary):,} n-grams)")

    stream = [queries[i % len(queries)] for i in range(args.messages)]
    t0 = time.perf_counter()
    results: list[list[tuple[int, float]]] = []
    for start in range(0, len(stream), args.batch):
        results.extend(matcher.match_batch(big_index, stream[start : start + args.batch], k=5))
    batch_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for m in stream[: args.single]:
        matcher.match(big_index, m, k=5)
    single_s = time.perf_counter() - t0
    gold_stream = [gold[i % len(queries)] for i in range(args.messages)]
    mapped = [[(origin[c], s) for c, s in r] for r in results]
    scale_top1 = accuracy(mapped, gold_stream, 1)
    scale_top5 = accuracy(mapped, gold_stream, 5)
    speed = {
        "claims": len(big),
        "vocabulary": len(big_index.vocabulary),
        "index_build_s": round(build_s, 3),
        "batch_size": args.batch,
        "messages": len(stream),
        "batch_messages_per_s": round(len(stream) / batch_s, 1),
        "single_messages_per_s": round(args.single / single_s, 1),
        "single_latency_ms": round(1000 * single_s / args.single, 2),
        "top1_at_scale": round(scale_top1, 4),
        "top5_at_scale": round(scale_top5, 4),
    }
    print_table("speed", ["measure", "value"], [[k, v] for k, v in speed.items()])
    path = write_results(
        "rumor_matcher",
        {
            "machine": machine(),
            "eval_set": {"claims": len(claims), "queries": len(queries)},
            "accuracy": acc,
            "scale": speed,
        },
    )
    say(f"results in {path}")


if __name__ == "__main__":
    main()
