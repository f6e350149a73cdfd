"""What the study assets show in the UI: their metadata tables, the short verdicts and the paper views,
narrow enough for a laptop screen beside Dagster's panels (tests/test_ui_layout.py checks them in a browser)."""

from __future__ import annotations

import json

import dagster as dg
import pandas as pd

from hanrock_core.base.home import Home
from hanrock_core.base.staged_results import read_staged_rows
from hanrock_core.comparison.auxiliary_affinity import TABLES as AFFINITY_TABLES
from hanrock_core.comparison.auxiliary_affinity import partition_affinity
from hanrock_core.learning.floor import CONDITION as FLOOR
from hanrock_core.reports.plots import METRIC_WORDS, learning_curves
from hanrock_core.study.partition_data import PartitionData

from . import names
from .metadata import (
    inline_table,
    plot_metadata,
)

SIGNIFICANCE_CHECK = names.SIGNIFICANCE_CHECK
HEALTH_CHECK = names.HEALTH_CHECK
DECIDED_CHECK = names.DECIDED_CHECK


def staged_key(hypothesis: str, key: str, table: pd.DataFrame) -> dict:
    """The key of a partition's staged result rows: hypothesis, dataset, task and the identity of its trials."""
    dataset, task = key.split(".", 1)
    return {"hypothesis": hypothesis, "dataset": dataset, "task": task, "identity": str(table["identity"].iloc[0])}


def trials_metadata(table: pd.DataFrame, home: Home, hypothesis: str, key: str, part: PartitionData) -> dict:
    """Best trial per condition (the floor among them), pruned and failed counts, the selected trial's
    learning curve, and the word vectors' coverage."""
    done = table[table["state"] != "failed"].dropna(subset=["dev_value"])
    higher = bool(len(done)) and done["metric"].iloc[0] != "mae"
    best = done.sort_values("dev_value", ascending=not higher).groupby("condition").head(1)
    neural = best[best["condition"] != FLOOR]  # the learning curve is a searched model's
    scores = {
        "condition": "condition",
        "trial": "trial",
        "dev_value": "dev",
        "test_value": "test",
        "best_epoch": "epoch",
    }
    settings = {  # a second narrow table: one wide table is cut at laptop width
        "condition": "condition",
        "learning_rate": "lr",
        "batch_size": "batch",
        "primary_units": "P",
        "aux_units": "A",
        "content_size": "context",
        "weight_scheme": "weighting",
        "primary_weight": "w primary",
    }
    meta = {
        "dagster/row_count": dg.MetadataValue.int(len(table)),
        "best_trials": inline_table(best[list(scores)].rename(columns=scores).round(4)),
        "best_trials_settings": inline_table(best[list(settings)].rename(columns=settings), digits=6),
        "pruned_trials": dg.MetadataValue.int(int((table["state"] == "pruned").sum())),
        "failed_trials": dg.MetadataValue.int(int((table["state"] == "failed").sum())),
        "selection_metric": dg.MetadataValue.text(str(done["metric"].iloc[0]) if len(done) else "none"),
        "word_vectors": dg.MetadataValue.text(
            part.vectors.describe() if part.vectors else "none (embeddings learnt from scratch)"
        ),
    }
    stage_key = staged_key(hypothesis, key, table)
    meta.update(identity_metadata(read_staged_rows(home, "study_identities", stage_key).iloc[0]))
    ensembles = read_staged_rows(home, "all_ensembles", stage_key)
    if len(ensembles):  # each condition's seeds averaged, beside its selected trial alone
        single = best.set_index("condition")[["dev_value", "test_value"]].set_axis(["sel. dev", "sel. test"], axis=1)
        shown = ensembles.set_index("condition")[["seeds", "dev_value", "test_value"]]
        shown = shown.set_axis(["seeds", "ens. dev", "ens. test"], axis=1)  # short: fits beside the definition
        meta["seed_ensembles"] = inline_table(shown.join(single).reset_index().round(4))
    staged = {t: read_staged_rows(home, t, stage_key) for t in AFFINITY_TABLES if t != "mutual_information"}
    mi_key = {"dataset": part.dataset, "task": part.task}  # the auxiliary-targets step staged it per partition
    targets, families = partition_affinity(
        {**staged, "mutual_information": read_staged_rows(home, "mutual_information", mi_key)}
    )
    if len(targets):  # which auxiliary targets help: measured while training, beside the paper's MI ranking
        meta["auxiliary_affinity"] = inline_table(targets[["condition", "aux_task", *AFFINITY_COLUMNS]])
        meta["auxiliary_affinity_by_family"] = inline_table(
            families[["condition", "family", "targets", *AFFINITY_COLUMNS]]
        )
    if len(neural):
        epochs = read_staged_rows(home, "all_epochs", stage_key)
        chosen = neural[["condition", "trial"]].astype({"trial": int})
        curves = epochs.astype({"trial": int}).merge(chosen, on=["condition", "trial"]).sort_values("epoch")
        order = {c: i for i, c in enumerate(dict.fromkeys(table["condition"]))}
        curves = curves.sort_values(
            ["condition", "epoch"], key=lambda col: col.map(order) if col.name == "condition" else col
        )
        title = f"{key}: each condition's best trial"
        meta.update(
            plot_metadata(
                "learning_curves",
                learning_curves(curves, title, str(neural["metric"].iloc[0])),
                home.plot(hypothesis, f"{key}.learning_curves.png"),
                title,
            )
        )
    return meta


def identity_metadata(row: pd.Series) -> dict:
    """What the studies were trained on, and what changed since the studies they superseded."""
    parts = json.loads(row["parts"])
    meta = {
        "study_identity": dg.MetadataValue.text(str(row["identity"])),
        "profile": dg.MetadataValue.text(str(row["profile"])),
        "inputs": dg.MetadataValue.json(parts),
    }
    if isinstance(row.get("previous"), str):
        meta["superseded"] = dg.MetadataValue.md(
            f"These inputs differ from those of the studies this partition used before ({row['previous']}) in: "
            f"**{row['differs']}**. New studies were trained; the old ones stay queryable "
            "(`hanrock results superseded`) and no table mixes them."
        )
    return meta


def answer_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Every comparison's verdict with its difference, interval, seeds or slots, and health: three short text
    columns whose cells wrap (a table: Dagster folds Markdown from 1,000 characters, never a table), the first
    thing the significance page shows."""
    one = verdicts[["dataset", "task"]].drop_duplicates().shape[0] == 1
    rows = []
    for r in verdicts.to_dict("records"):
        metric = METRIC_WORDS.get(r["metric"], str(r["metric"]).replace("_", " "))
        interval = f" [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]" if pd.notna(r["ci_low"]) else ""
        counted = r["counted"] if r["per_condition"] != 1 else r["counted"][:-1]
        where = r["comparison"] if one else f"{r['dataset']}.{r['task']} {r['comparison']}"
        rows.append(
            {
                "comparison": f"{where} ({metric})",
                "verdict": f"{r['verdict']} {r['difference']:+.3f}{interval}, {r['per_condition']} {counted}",
                "health": short_health(r),
            }
        )
    return pd.DataFrame(rows, columns=["comparison", "verdict", "health"])


def short_health(row: dict) -> str:
    """A comparison's health in a few words: the test's own flags, and which of its models study_health flags
    (the flags themselves are on that check's page)."""
    text = row["health"] or ""
    kept = [flag for flag in ("needs 2+ seeds", "weak test") if flag in text]
    models = {row["baseline"], row["challenger"]}
    models |= {m.removesuffix(" ensemble") for m in models}
    flagged = sorted(m for m in models if f"{m}: " in text)
    if flagged:
        kept.append(f"{', '.join(flagged)} flagged (study_health)")
    return "; ".join(kept) or "ok"


def p_value_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Each comparison's p, equivalence p (within the margin), the paper's A.4 and what the test could detect
    (a planning figure): short numeric columns."""
    one = verdicts[["dataset", "task"]].drop_duplicates().shape[0] == 1
    return pd.DataFrame(
        {
            "comparison": verdicts["comparison"] if one else verdicts["task"] + " " + verdicts["comparison"],
            "p": verdicts["p_value"].round(3),
            "p within margin": verdicts["p_equivalence"].round(3),
            "A.4": verdicts["paper_verdict"].fillna("not tested"),
            "detects": verdicts["detectable_effect"].round(3),
        }
    )


def filled_columns(table: pd.DataFrame) -> pd.DataFrame:
    """A paper view without the columns of the paper's datasets no study filled (narrower on the page)."""
    return table[[c for c in table.columns if table[c].notna().any() and (table[c].astype(str) != "").any()]]


# what the cells of the paper-style tables mean (shown beside them in the UI; sql/views.sql, results_long)
AFFINITY_COLUMNS = ["affinity", "affinity_rank", "mi", "mi_rank", "kept_share"]  # of the views, on a train page

MARKS = (
    "`search` the mean test value over every slot of the condition's search (what the verdict compares); `sel.` the "
    "selected trial's (the paper's number); `seeds` its configuration's seeds, mean ± sd; `ens.` their seed "
    "ensemble; then the verdict against the baseline (better, worse, equivalent within ±0.03 or 5% of MAE, "
    "undecided); `*` significant by the paper's bootstrap over trials (appendix A.4); `^` H2's A = 1 against "
    "A = 0 (A.4)"
)


def short_markdown(lines: list[str], limit: int = 950) -> str:
    """The summary as Markdown short enough for the UI to show without a click (it folds at 1,000 characters)."""
    items = [f"  - {line.strip()}" if line.startswith("  ") else f"- {line}" for line in lines[1:]]
    text = f"**{lines[0]}**\n\n" + "\n".join(items)
    return text if len(text) <= limit else text[: limit - 40].rsplit("\n", 1)[0] + "\n- ... (the run's log has all)"


__all__ = [
    "MARKS",
    "answer_table",
    "filled_columns",
    "identity_metadata",
    "p_value_table",
    "short_health",
    "short_markdown",
    "staged_key",
    "trials_metadata",
]
