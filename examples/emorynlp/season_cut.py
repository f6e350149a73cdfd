"""A second cut of EmoryNLP, so that a default is not chosen on one dev set (issue 33).

Cut "season 4 as dev": train = the published train split's seasons 1-3, dev = its season 4, test = the
published test split (reported only, never used to choose).  The published dev split, on which the
`standard` profile was chosen, is left out.  Files keep the published names, so
`examples/emorynlp/dataset.yaml` reads the cut with the cut's folder as the data root:

    .venv/bin/python examples/emorynlp/season_cut.py ../shared/data/emorynlp /tmp/emorynlp-cut-s4
    .venv/bin/hanrock load byo /tmp/emorynlp-cut-s4 --spec examples/emorynlp/dataset.yaml
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

TRAIN, DEV, TEST = "emorynlp_train_final.csv", "emorynlp_dev_final.csv", "emorynlp_test_final.csv"
DEV_SEASON = "4"


def read(path: Path) -> pd.DataFrame:
    """A published file as text, every cell as written (no number or NaN parsing)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the published EmoryNLP folder")
    parser.add_argument("out", type=Path, help="the folder to write the cut into (created)")
    args = parser.parse_args(argv)
    train = read(args.root / TRAIN)
    if "Season" not in train.columns:
        print(f"season_cut: {args.root / TRAIN}: no Season column", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    held = train["Season"] == DEV_SEASON
    train[~held].to_csv(args.out / TRAIN, index=False)
    train[held].to_csv(args.out / DEV, index=False)
    read(args.root / TEST).to_csv(args.out / TEST, index=False)
    print(f"cut written to {args.out}: train {int((~held).sum())}, dev {int(held.sum())} (train's season {DEV_SEASON})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
