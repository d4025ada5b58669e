"""EU DCC interoperability: agreement of our verifier with the dgc-testdata expectations, per stage.

uv run python benchmarks/healthcode_dcc_agreement.py [--no-pictures]
"""

from __future__ import annotations

import argparse
import time

from accord.healthcode import dcc_vectors
from common import print_table, say, shared_data, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-pictures", action="store_true", help="skip QR image decoding")
    args = parser.parse_args()
    data = shared_data()
    if data is None:
        say("../shared/data is not present: nothing to compare with")
        return
    t0 = time.perf_counter()
    outcomes = dcc_vectors.evaluate(data / "eu-dcc-testdata", pictures=not args.no_pictures)
    seconds = time.perf_counter() - t0
    rows = dcc_vectors.agreement_table(outcomes)
    cols = ["stage", "vectors", "expected_true", "expected_false", "agree", "disagree", "known_issue", "not_evaluated"]
    print_table("EU DCC test vectors: our verdict vs EXPECTEDRESULTS", cols, [[r[c] for c in cols] for r in rows])
    for o in outcomes:
        if o.got is not None and o.got != o.expected:
            say(f"  {'disputed' if o.known_issue else 'DISAGREE'}: {o.vector} {o.stage} expected {o.expected}")
    write_results(
        "healthcode_dcc_agreement",
        {"rows": rows, "seconds": seconds, "disputed": {f"{k[0]} {k[1]}": v for k, v in dcc_vectors.DISPUTED.items()}},
    )


if __name__ == "__main__":
    main()
