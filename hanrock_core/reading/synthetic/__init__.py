"""The embedded synthetic corpus, written in the real raw layouts so that the real readers load it.

`generate("iemocap" | "semaine", out_dir, scale, seed)` writes the corpus and its planted ground
truth (`ground_truth.csv`, one row per talkturn: the latent state behind every observation).
"""

from __future__ import annotations

from pathlib import Path

from hanrock_core.base.errors import InputError
from hanrock_core.base.io import atomic_directory
from hanrock_core.reading.synthetic import iemocap_layout, semaine_layout

CORPORA = {"iemocap": iemocap_layout, "semaine": semaine_layout}
GROUND_TRUTH_FILE = "ground_truth.csv"


def generate(corpus: str, out_dir: str | Path, scale: float = 1.0, seed: int = 0) -> Path:
    """Write a synthetic `corpus` into `out_dir` (which must be new or empty); byte-identical per seed."""
    if corpus not in CORPORA:
        raise InputError(f"unknown corpus {corpus!r}; choose one of {sorted(CORPORA)}")
    if not 0 < scale <= 1:
        raise InputError(f"scale {scale} must be in (0, 1]")
    out_dir = Path(out_dir)
    try:
        with atomic_directory(out_dir) as tmp:
            truth = CORPORA[corpus].write(tmp, scale, seed)
            truth.to_csv(tmp / GROUND_TRUTH_FILE, index=False, float_format="%.5f")
            (tmp / "SYNTHETIC.txt").write_text(
                f"Synthetic {corpus} corpus written by hanrock (scale {scale}, seed {seed}).\n"
                f"{GROUND_TRUTH_FILE} holds the latent state behind every talkturn.\n"
            )
    except FileExistsError as exc:
        raise InputError(str(exc), out_dir) from exc
    return out_dir
