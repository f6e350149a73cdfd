"""The paired test on simulated comparisons with a known truth: false-positive rate and power, each with its
95% Wilson interval, in every noise regime of `hanrock_core/comparison/paired_simulation.py`.

    .venv/bin/python -m tests.bench_paired_comparison [--replicates 2000] [--resamples 400]

A new test set and new seeds every replicate; the challenger's true effect is 0 (the false-positive rate:
the share significant at the nominal 0.05), +0.01, +0.02 and +0.03 of expected accuracy (power: the share
significant and better).  Also the share of each verdict.  docs/studies.md holds the figures of one run.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from hanrock_core.comparison.calibration import wilson
from hanrock_core.comparison.paired_simulation import REGIMES, simulate

EFFECTS = (0.0, 0.01, 0.02, 0.03)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=400)
    args = parser.parse_args()
    rows = []
    for regime in REGIMES:
        for effect in EFFECTS:
            started = time.perf_counter()
            runs = simulate(regime.with_effect(effect) if effect else regime, args.replicates, 7, args.resamples)
            hits = int(runs["better"].sum() if effect else runs["significant"].sum())
            low, high = wilson(hits, len(runs))
            verdicts = runs["verdict"].value_counts(normalize=True)
            rows.append(
                {
                    "regime": regime.name,
                    "seeds": regime.seeds,
                    "effect": effect,
                    "measure": "power" if effect else "false-positive rate",
                    "rate": hits / len(runs),
                    "95% interval": f"[{low:.3f}, {high:.3f}]",
                    "mean se^2 / var(d)": (runs["se"] ** 2).mean() / runs["difference"].var(),
                    **{v: verdicts.get(v, 0.0) for v in ("better", "worse", "equivalent", "undecided")},
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            print(pd.DataFrame(rows[-1:]).round(3).to_string(index=False, header=len(rows) == 1), flush=True)
    print(f"\n{args.replicates} replicates each, {args.resamples} dialogue resamples per comparison")


if __name__ == "__main__":
    main()
