"""Vokaturi tone-of-voice results: one CSV row per talkturn clip, keyed by utterance id.

Columns: `utterance_id, valid, neutrality, happiness, sadness, anger, fear`.  Rows with
`valid` 0/false (clip too short or no voice) give missing tone values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import read_tool_csv
from ..talkturn import TONES

COLUMNS = ("utterance_id", "valid") + TONES
SUM_TOLERANCE = 0.02


def read_vokaturi_csv(path: str | Path, known_ids: set[str], skipped_prefixes: tuple[str, ...] = ()) -> pd.DataFrame:
    """Tone probabilities indexed by utterance id; refuses unknown ids and impossible values.

    Rows whose id starts with one of `skipped_prefixes` (sessions the reader skips) are dropped.
    """
    path = Path(path)
    rows = read_tool_csv(path, "Vokaturi", COLUMNS, dtype={"utterance_id": str})
    line = np.arange(len(rows)) + 2
    if skipped_prefixes:
        keep = ~rows["utterance_id"].astype(str).str.startswith(skipped_prefixes)
        rows, line = rows[keep].reset_index(drop=True), line[keep.to_numpy()]
    unknown = ~rows["utterance_id"].isin(known_ids)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise InputError(
            f"row for unknown utterance {rows['utterance_id'].iloc[i]!r}", path, int(line[i]), "utterance_id",
            hint="every row must name a talkturn of the corpus",
        )
    dup = rows["utterance_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(f"second row for utterance {rows['utterance_id'].iloc[i]!r}", path, int(line[i]), "utterance_id")
    valid = rows["valid"].astype(str).str.strip().str.lower().isin(("1", "true", "yes"))
    probs = rows[list(TONES)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, copy=True)
    bad_value = valid.to_numpy()[:, None] & ~((probs >= 0) & (probs <= 1))
    if bad_value.any():
        i, j = np.argwhere(bad_value)[0]
        raise InputError(f"probability {probs[i, j]} is NaN or outside 0..1", path, int(line[i]), TONES[j])
    bad_sum = valid.to_numpy() & (np.abs(probs.sum(axis=1) - 1.0) > SUM_TOLERANCE)
    if bad_sum.any():
        i = int(np.flatnonzero(bad_sum)[0])
        raise InputError(f"probabilities sum to {probs[i].sum():.3f}, not 1", path, int(line[i]))
    probs[~valid.to_numpy()] = np.nan
    out = pd.DataFrame(probs, columns=[f"tone_{t}" for t in TONES], index=rows["utterance_id"].to_numpy())
    return out


def attach_vokaturi(table: pd.DataFrame, path: str | Path | None, skipped_prefixes: tuple[str, ...] = ()) -> pd.DataFrame:
    """Fill the tone columns of `table` from a Vokaturi CSV (no file: tones stay missing)."""
    if path is None or not Path(path).exists():
        return table
    tones = read_vokaturi_csv(path, set(table["utterance_id"].astype(str)), skipped_prefixes)
    table = table.copy()
    aligned = tones.reindex(table["utterance_id"].astype(str).to_numpy())
    for name in tones.columns:
        table[name] = aligned[name].to_numpy(dtype=float)
    return table
