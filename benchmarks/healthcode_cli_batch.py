"""Health codes verified from the command line: ``accord healthcode verify --file`` on a batch, beside one
``accord healthcode verify CODE`` process per code (what a script did before batches) and beside ``codec.verify``
in process (the ceiling). Wall-clock time of the installed ``accord`` executable, process start included.

Codes: ES256, signed by two issuer keys under a test root; a tenth of them invalid (revoked issuer, expired,
tampered) so that every verdict path is exercised. The trust list is our signed JSON one.

    uv run python benchmarks/healthcode_cli_batch.py [--codes 10000] [--single 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from accord.healthcode import codec, trustlist
from common import machine, print_table, say, write_results

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ACCORD = Path(sys.executable).parent / "accord"


def keys() -> tuple[str, codec.Trust, list[tuple[object, bytes]]]:
    root_key = trustlist.new_key()
    root = trustlist.root_certificate(root_key, "AR", now=NOW - timedelta(days=30))
    issuers = []
    entries = []
    for i, status in enumerate(("active", "active", "revoked")):
        key = trustlist.new_key()
        cert = trustlist.issuer_certificate(root_key, root, key.public_key(), f"AR-0{i + 1}", now=NOW - timedelta(1))
        issuers.append((key, codec.kid_of(cert)))
        entries.append(trustlist.Entry(cert, f"AR-0{i + 1}", status))
    text = trustlist.sign_trust_list(entries, root_key=root_key, root_cert=root, version=1, issued_at=NOW)
    return text, trustlist.load_trust_list(text).trust, issuers


def codes(n: int, issuers: list[tuple[object, bytes]]) -> list[str]:
    out = []
    for i in range(n):
        key, kid = issuers[2] if i % 30 == 7 else issuers[i % 2]
        hours = 0.5 if i % 30 == 13 else 12  # expired by the validation time below
        claim = codec.HealthClaim(("green", "yellow", "red")[i % 3], "2026.1", "AR-01", "JD", "07-14")
        code = codec.issue(
            claim,
            issuer="AR",
            private_key=key,
            kid=kid,
            issued_at=NOW,
            validity=timedelta(hours=hours),  # type: ignore[arg-type]
        )
        if i % 30 == 21:
            code = code[:-8] + ("A" if code[-8] != "A" else "B") + code[-7:]  # tampered
        out.append(code)
    return out


def run(args: list[str], stdin: str | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    done = subprocess.run([str(ACCORD), *args], input=stdin, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=5, help="codes verified one process each")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    at = (NOW + timedelta(hours=1)).isoformat()
    text, trust, issuers = keys()
    batch = codes(args.codes, issuers)
    say(f"{args.codes:,} codes ({sum(1 for i in range(args.codes) if i % 30 in (7, 13, 21)):,} invalid)")

    t0 = time.perf_counter()
    expected = [codec.verify(c, trust, NOW + timedelta(hours=1)).valid for c in batch]
    in_process = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        trust_path = Path(tmp) / "trust.json"
        trust_path.write_text(text, encoding="utf-8")
        codes_path = Path(tmp) / "codes.txt"
        codes_path.write_text("\n".join(batch) + "\n", encoding="utf-8")
        common = ["--trust", str(trust_path), "--at", at]
        run(["healthcode", "verify", "--help"])  # byte code compiled once, outside the timings
        batch_times = []
        for _ in range(args.repeat):
            seconds, done = run(["healthcode", "verify", "--file", str(codes_path), *common])
            verdicts = [line.split("\t")[1] == "valid" for line in done.stdout.splitlines()]
            assert verdicts == expected, "the CLI's verdicts differ from codec.verify's"
            batch_times.append(seconds)
        json_seconds, done = run(["healthcode", "verify", "-", "--json", *common], stdin="\n".join(batch))
        assert len(done.stdout.splitlines()) == args.codes
        single_times = []
        for code in batch[: args.single]:
            seconds, done = run(["healthcode", "verify", code, *common])
            assert done.returncode in (0, 2), done.stderr
            single_times.append(seconds)
    best = min(batch_times)
    per_single = sum(single_times) / len(single_times)
    rows = [
        [f"accord healthcode verify --file ({args.codes:,} codes, best of {args.repeat})", best, args.codes / best],
        ["the same from standard input, --json", json_seconds, args.codes / json_seconds],
        [f"one accord process per code (mean of {args.single})", per_single, 1 / per_single],
        ["codec.verify in process (no start-up, no output)", in_process, args.codes / in_process],
    ]
    print_table("Health codes verified from the command line", ["how", "seconds", "codes/s"], rows)
    print(f"batch vs one process per code: {per_single * args.codes / best:,.0f}x; target >= 1,000 codes/s")
    path = write_results(
        "healthcode_cli_batch",
        {
            "codes": args.codes,
            "batch_seconds": batch_times,
            "batch_codes_per_s": args.codes / best,
            "json_stdin_seconds": json_seconds,
            "single_process_seconds": single_times,
            "in_process_seconds": in_process,
            "machine": machine(),
        },
    )
    say(f"results in {path}")


if __name__ == "__main__":
    main()
