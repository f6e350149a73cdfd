"""Vokaturi tone-of-voice results: one CSV row per talkturn clip, keyed by utterance id.

Columns: `utterance_id, valid, neutrality, happiness, sadness, anger, fear`.  Rows with
`valid` 0/false (clip too short or no voice) give missing tone values.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from hanrock_core.base.errors import InputError
from hanrock_core.base.input_files import read_tool_csv, refuse_empty_table
from hanrock_core.base.notices import Notices, ensure
from hanrock_core.reading.talkturn import TONES

COLUMNS = ("utterance_id", "valid") + TONES
SUM_TOLERANCE = 0.02


VALID_WORDS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def read_vokaturi_csv(
    path: str | Path, known_ids: set[str], skipped_prefixes: tuple[str, ...] = (), notices: Notices | None = None
) -> pd.DataFrame:
    """Tone probabilities indexed by utterance id; refuses unknown ids and impossible values.

    Rows whose id starts with one of `skipped_prefixes` (sessions or sides the reader left out, and said
    so) are dropped, and counted.
    """
    path = Path(path)
    rows = read_tool_csv(path, "Vokaturi", COLUMNS, dtype=str, keep_default_na=False)
    refuse_empty_table(rows, path, "Vokaturi CSV")
    line = np.arange(len(rows)) + 2
    if skipped_prefixes:
        keep = ~rows["utterance_id"].astype(str).str.startswith(skipped_prefixes)
        if not keep.all():
            ensure(notices).info(
                f"{int((~keep).sum())} row(s) belong to sessions or sides that were left out and are not read", path
            )
        rows, line = rows[keep].reset_index(drop=True), line[keep.to_numpy()]
    unknown = ~rows["utterance_id"].isin(known_ids)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise InputError(
            f"row for unknown utterance {rows['utterance_id'].iloc[i]!r}",
            path,
            int(line[i]),
            "utterance_id",
            hint="every row must name a talkturn of the corpus",
        )
    dup = rows["utterance_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputError(
            f"second row for utterance {rows['utterance_id'].iloc[i]!r}", path, int(line[i]), "utterance_id"
        )
    flags = rows["valid"].astype(str).str.strip().str.lower()
    unknown_flag = ~flags.isin(VALID_WORDS)
    if unknown_flag.any():
        i = int(np.flatnonzero(unknown_flag)[0])
        raise InputError(
            f"valid flag {rows['valid'].iloc[i]!r} is not 1/0 (or true/false)", path, int(line[i]), "valid"
        )
    valid = flags.map(VALID_WORDS).astype(bool)
    probs = rows[list(TONES)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, copy=True)
    bad_value = valid.to_numpy()[:, None] & ~((probs >= 0) & (probs <= 1))
    if bad_value.any():
        i, j = np.argwhere(bad_value)[0]
        raw = rows[TONES[j]].iloc[i]
        hint = "write decimals with '.' (0.5, not 0,5)" if "," in raw else None
        raise InputError(f"probability {raw!r} is not a number in 0..1", path, int(line[i]), TONES[j], hint=hint)
    bad_sum = valid.to_numpy() & (np.abs(probs.sum(axis=1) - 1.0) > SUM_TOLERANCE)
    if bad_sum.any():
        i = int(np.flatnonzero(bad_sum)[0])
        raise InputError(f"probabilities sum to {probs[i].sum():.3f}, not 1", path, int(line[i]))
    probs[~valid.to_numpy()] = np.nan
    out = pd.DataFrame(probs, columns=[f"tone_{t}" for t in TONES], index=rows["utterance_id"].to_numpy())
    return out


def attach_vokaturi(
    table: pd.DataFrame,
    path: str | Path | None,
    skipped_prefixes: tuple[str, ...] = (),
    notices: Notices | None = None,
    required: bool = False,
) -> pd.DataFrame:
    """Fill the tone columns of `table` from a Vokaturi CSV.

    No file: tones stay missing (said once); a file the user named (`required`) must exist.
    """
    if path is None or not os.path.lexists(path):
        if required:
            raise InputError(
                "the Vokaturi file does not exist", path, hint="fix --vokaturi (or `vokaturi:` in the settings)"
            )
        ensure(notices).info("no Vokaturi file: every talkturn's tone of voice is missing", path)
        return table
    tones = read_vokaturi_csv(path, set(table["utterance_id"].astype(str)), skipped_prefixes, notices)
    table = table.copy()
    aligned = tones.reindex(table["utterance_id"].astype(str).to_numpy())
    for name in tones.columns:
        table[name] = aligned[name].to_numpy(dtype=float)
    return table
