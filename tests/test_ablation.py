"""`hanrock ablate`: one change at a time to a profile's middle configuration, the same seeds for each,
dev beside the base; a re-run reads the runs back instead of training them again."""

from __future__ import annotations

import pandas as pd

from hanrock_core.comparison.ablation import summary

from .helpers import run_cli
from .test_search import TINY_PROFILE


def test_hanrock_ablate_trains_each_change_with_the_same_seeds(tiny_iemocap, tmp_path, capsys, monkeypatch):
    settings = tmp_path / "hanrock.yaml"
    settings.write_text(f"home: {tmp_path / 'home'}\ndatasets:\n  iemocap: {{root: {tiny_iemocap}}}\n")
    monkeypatch.setenv("HANROCK_CONFIG", str(settings))
    profile = tmp_path / "p.yaml"
    profile.write_text(TINY_PROFILE.format(trials=2))
    out = tmp_path / "runs.parquet"
    args = ["ablate", "iemocap.emotion", "--profile", profile, "--seeds", "2", "--out", out]
    code, printed, err = run_cli(capsys, *args, "--changes", "base,content_0,min_count_2,fasttext")
    assert code == 0, err
    runs = pd.read_parquet(out)
    assert runs.groupby("change").size().to_dict() == {"base": 2, "content_0": 2, "min_count_2": 2, "fasttext": 2}
    assert runs.groupby("change")["seed"].apply(tuple).nunique() == 1  # every change sees the same seeds
    assert runs["dev"].between(0, 1).all() and runs["test"].between(0, 1).all()
    table = summary(runs).set_index("change")
    assert table.loc["base", "dev_vs_base"] == 0
    assert "fasttext learnt on the train split" in printed and "dev_vs_base" in printed
    code, again, _ = run_cli(capsys, *args, "--changes", "base")
    assert code == 0 and "replicate" not in again  # read back, not trained
    code, _, err = run_cli(capsys, *args, "--changes", "nosuch")
    assert code == 2 and "no ablation change named 'nosuch'" in err and "content_0" in err
