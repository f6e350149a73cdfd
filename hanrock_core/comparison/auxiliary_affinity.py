"""Which auxiliary targets help: each target's measured affinity with the primary task ranked beside the
paper's mutual-information ranking (the rows come from training, learning/loss_weighting.py)."""

from __future__ import annotations

import pandas as pd


def affinity_ranking(rows: pd.DataFrame, mi: pd.Series, family: dict[str, str]) -> pd.DataFrame:
    """One row per auxiliary target: mean affinity over every trial that measured it, its rank, the MI and
    MI rank, the share of `auto` trials that kept it.  `rows`: all_auxiliary_affinity rows of a partition."""
    if rows.empty:
        return pd.DataFrame(columns=["aux_task", "family", "affinity", "affinity_rank", "mi", "mi_rank", "auto_kept"])
    measured = rows.dropna(subset=["affinity"])
    kept = measured.dropna(subset=["kept"]).groupby("aux_task")["kept"].mean()
    out = measured.groupby("aux_task")["affinity"].mean().rename("affinity").to_frame()
    out["affinity_rank"] = out["affinity"].rank(ascending=False, method="min").astype(int)
    out["mi"] = mi.reindex(out.index)
    out["mi_rank"] = mi.rank(ascending=False, method="min").reindex(out.index)
    out["auto_kept"] = kept.reindex(out.index)
    out["family"] = [family.get(t) for t in out.index]
    out = out.reset_index().sort_values("affinity_rank")
    return out[["aux_task", "family", "affinity", "affinity_rank", "mi", "mi_rank", "auto_kept"]].round(4)


def family_ranking(targets: pd.DataFrame) -> pd.DataFrame:
    """One row per auxiliary family: the mean affinity and mean MI of its targets, both ranked (the paper
    switches families on and off; `targets` is affinity_ranking's output)."""
    if targets.empty:
        return pd.DataFrame(columns=["family", "targets", "affinity", "affinity_rank", "mi", "mi_rank", "auto_kept"])
    out = targets.groupby("family").agg(
        targets=("aux_task", "size"), affinity=("affinity", "mean"), mi=("mi", "mean"), auto_kept=("auto_kept", "mean")
    )
    out["affinity_rank"] = out["affinity"].rank(ascending=False, method="min").astype(int)
    out["mi_rank"] = out["mi"].rank(ascending=False, method="min")
    out = out.reset_index().sort_values("affinity_rank")
    return out[["family", "targets", "affinity", "affinity_rank", "mi", "mi_rank", "auto_kept"]].round(4)


__all__ = ["affinity_ranking", "family_ranking"]
