"""Loss weights for 1 primary + N auxiliary tasks, and the mutual information behind them.

The primary weight is drawn from [0.50, 0.99]; the rest is split over the auxiliary tasks that
the study condition switches on by (a) random, (b) MI-linear (MI / sum MI) or (c) MI-softmax
(exp(MI) / sum exp(MI)).  Switched-off tasks get exactly 0 under every scheme, and the weights
always sum to 1 (with no auxiliary task switched on, the primary weight is 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

from hanrock_core.base.errors import InputError
from hanrock_core.preparation.auxiliary_target import AuxiliaryTargets

SCHEMES = ("random", "mi_linear", "mi_softmax")
MI_NEIGHBOURS = 3


def assign_loss_weights(
    primary_weight: float, scheme: str, mi: pd.Series, active: set[str] | list[str], rng: np.random.Generator
) -> pd.Series:
    """Weights indexed by "primary" then the auxiliary tasks of `mi`, summing to 1."""
    if scheme not in SCHEMES:
        raise InputError(f"unknown loss-weight scheme {scheme!r}; choose one of {SCHEMES}")
    unknown = set(active) - set(mi.index)
    if unknown:
        raise InputError(f"switched-on auxiliary tasks {sorted(unknown)} have no mutual information value")
    on = np.array([task in set(active) for task in mi.index])
    weights = np.zeros(len(mi))
    if on.any():
        values = mi.to_numpy(dtype=float)[on]
        if scheme == "random":
            share = rng.uniform(0.0, 1.0, on.sum())
        elif scheme == "mi_linear":
            share = values if values.sum() > 0 else np.ones_like(values)  # no information: uniform
        else:
            share = np.exp(values - values.max())
        weights[on] = (1.0 - primary_weight) * share / share.sum()
        primary = primary_weight
    else:
        primary = 1.0
    return pd.Series(np.r_[primary, weights], index=["primary", *mi.index], name="loss_weight")


def mutual_information(targets: AuxiliaryTargets, seed: int = 0) -> pd.DataFrame:
    """MI of each auxiliary target with the primary target on the train split.

    Rows where either is missing are left out; a constant target has MI 0.  Returns one row per
    auxiliary task with its family, kind (class / regression), MI and the number of rows used,
    ranked by MI.
    """
    table = targets.table
    train = table[table["split"] == "train"]
    primary = train["primary"]
    classification = targets.classes is not None
    rows = []
    for task in targets.tasks:
        values = train[task]
        ok = values.notna().to_numpy() & primary.notna().to_numpy()
        x, y = values[ok], primary[ok]
        discrete = targets.kind[task] == "class"
        if ok.sum() < MI_NEIGHBOURS + 2 or x.nunique() < 2:
            mi = 0.0
        else:
            x_num = pd.factorize(x, sort=True)[0].reshape(-1, 1) if discrete else x.to_numpy(dtype=float).reshape(-1, 1)
            if classification:
                mi = mutual_info_classif(
                    x_num,
                    y.astype(str).to_numpy(),
                    discrete_features=discrete,
                    n_neighbors=MI_NEIGHBOURS,
                    random_state=seed,
                )[0]
            else:
                mi = mutual_info_regression(
                    x_num,
                    y.to_numpy(dtype=float),
                    discrete_features=discrete,
                    n_neighbors=MI_NEIGHBOURS,
                    random_state=seed,
                )[0]
        rows.append(
            {
                "task": task,
                "family": targets.family[task],
                "kind": targets.kind[task],
                "mi": max(float(mi), 0.0),
                "n": int(ok.sum()),
            }
        )
    out = pd.DataFrame(rows).sort_values("mi", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out
