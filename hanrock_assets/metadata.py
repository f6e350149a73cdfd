"""Materialisation metadata: what a user wants to see of each asset in the Dagster UI."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pandas as pd

from hanrock_core.base.home import Home
from hanrock_core.base.io import atomic_path
from hanrock_core.base.notices import Notices
from hanrock_core.preparation.auxiliary_target import AuxiliaryTargets
from hanrock_core.preparation.narrative import phrase_counts
from hanrock_core.reading.talkturn import FEATURES, SPLITS, label_columns, label_summaries
from hanrock_core.reports.plots import mi_ranking, png_markdown, save_png


def md_table(df: pd.DataFrame) -> dg.MetadataValue:
    """A long table as Markdown (the UI shows it behind "[Show Markdown]")."""
    return dg.MetadataValue.md(df.to_markdown(index=False))


_COLUMN_TYPES = {"b": "bool", "i": "int", "u": "int", "f": "float"}


def _cell(value):
    """A JSON-friendly cell: numbers as numbers, missing as an empty string."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def inline_table(df: pd.DataFrame, digits: int = 4) -> dg.MetadataValue:
    """A table the UI shows as a table on the asset's page, without a click (numbers rounded)."""
    shown = df.round(digits)
    columns = [dg.TableColumn(str(name), _COLUMN_TYPES.get(shown[name].dtype.kind, "string")) for name in shown.columns]
    records = [dg.TableRecord({str(k): _cell(v) for k, v in row.items()}) for row in shown.to_dict("records")]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))


SERVED_PLOTS = "hanrock-plots"  # the folder under the instance's compute-log directory that holds served copies


def served_plot_url(png: bytes, path: Path) -> str | None:
    """A copy of the PNG where the Dagster webserver serves files (its compute-log route, `/logs/...`), and
    the URL of it; None without a persistent instance with local compute logs (then the image is embedded).

    An image in a Markdown value shows on the asset's page only while the value is under 1,000 characters;
    a served URL keeps it that short, an embedded PNG never is (it sits behind "[Show Markdown]")."""
    if not os.environ.get("DAGSTER_HOME"):
        return None
    from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

    manager = dg.DagsterInstance.get().compute_log_manager
    if not isinstance(manager, LocalComputeLogManager):
        return None
    key = [SERVED_PLOTS, path.parent.name, path.stem]
    target = Path(manager.get_captured_local_path(key, "png"))
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        tmp.write_bytes(png)
    return "/logs/" + "/".join(quote(part) for part in key) + "/png"


def plot_metadata(name: str, fig, path: Path, alt: str, dpi: int = 80) -> dict[str, dg.MetadataValue]:
    """The plot shown in the UI (`name`: on the page when the webserver can serve it, else embedded) and
    the PNG file it was written to (`name file`)."""
    png = save_png(fig, path, dpi)
    url = served_plot_url(png, path)
    shown = f"![{alt}]({url})" if url else png_markdown(png, alt)
    separator = " " if " " in name else "_"
    return {name: dg.MetadataValue.md(shown), f"{name}{separator}file": dg.MetadataValue.text(_under_home(path))}


def _under_home(path: Path) -> str:
    """A file under the data directory as `$HANROCK_HOME/plots/...`: a full path is one word that cannot wrap,
    and one such word wider than the page's value column makes the whole metadata table scroll sideways."""
    parts = path.parts
    starts = [i for i in range(len(parts) - 1) if parts[i : i + 2] == ("reports", "plots")]  # Home.plots
    return "$HANROCK_HOME/" + "/".join(parts[starts[-1] :]) if starts else str(path)


def corpus_metadata(table: pd.DataFrame, root: str, notices: Notices | None = None) -> dict[str, dg.MetadataValue]:
    """Size per split, labels, feature coverage, a few talkturns, and what the reader left out."""
    per_part = table.groupby("split", observed=True).agg(
        talkturns=("utterance_id", "size"),
        dialogues=("dialogue", "nunique"),
        sessions=("session", "nunique"),
        speakers=("speaker", "nunique"),
    )
    per_part = per_part.reindex([p for p in SPLITS if p in per_part.index]).reset_index()
    labels = [f"- **{name}**: {text}" for name, text in label_summaries(table).items()]
    coverage = pd.DataFrame(
        {"feature": list(FEATURES), "coverage": [f"{table[f].notna().mean():.0%}" for f in FEATURES]}
    )
    sample = table[["dialogue", "turn_index", "speaker", "text", "split"] + label_columns(table)].head(5)
    return {
        "dagster/row_count": dg.MetadataValue.int(len(table)),
        "root": dg.MetadataValue.path(root),
        "dialogues": dg.MetadataValue.int(int(table["dialogue"].nunique())),
        "splits": md_table(per_part),
        "labels": dg.MetadataValue.md("\n".join(labels)),
        "feature_coverage": md_table(coverage),
        "sample": md_table(sample),
        "reading_warnings": dg.MetadataValue.int(len(notices.warnings) if notices else 0),
        "reading_notices": md_table(notices.frame()) if notices and notices.items else dg.MetadataValue.text("none"),
    }


def narrative_metadata(narratives: pd.DataFrame, family: str) -> dict[str, dg.MetadataValue]:
    """Examples before/after and how often each nonverbal phrase was written."""
    phrases = phrase_counts(narratives["narrative"])
    with_cues = narratives[narratives["narrative"].str.len() > narratives["verbatim"].str.len() + 20]
    examples = pd.concat([with_cues.head(4), narratives.head(2)]).drop_duplicates("utterance_id")
    return {
        "dagster/row_count": dg.MetadataValue.int(len(narratives)),
        "family": dg.MetadataValue.text(family),
        "examples": md_table(examples[["verbatim", "narrative", "model_input"]]),
        "nonverbal_phrases": md_table(phrases),
        "mean_words_verbatim": dg.MetadataValue.float(
            round(float(narratives["verbatim"].str.split().str.len().mean()), 1)
        ),
        "mean_words_model_input": dg.MetadataValue.float(
            round(float(narratives["model_input"].str.split().str.len().mean()), 1)
        ),
    }


def target_distributions(targets: AuxiliaryTargets) -> pd.DataFrame:
    """Per auxiliary task: family, kind, missing share and a summary of its values."""
    rows = []
    for task in targets.tasks:
        col = targets.table[task]
        if targets.kind[task] == "class":
            summary = ", ".join(f"{k} {v}" for k, v in col.value_counts().items())
        else:
            summary = f"mean {col.mean():.3f}, sd {col.std():.3f}, range [{col.min():.3f}, {col.max():.3f}]"
        rows.append(
            {
                "task": task,
                "family": targets.family[task],
                "kind": targets.kind[task],
                "missing": f"{col.isna().mean():.1%}",
                "values": summary,
            }
        )
    return pd.DataFrame(rows)


def auxiliary_metadata(targets: AuxiliaryTargets, skipped: list[str]) -> dict[str, dg.MetadataValue]:
    """What the auxiliary targets are: how many, their families, kinds and values."""
    return {
        "dagster/row_count": dg.MetadataValue.int(len(targets.table)),
        "primary": dg.MetadataValue.text(targets.primary),
        "auxiliary_tasks": dg.MetadataValue.int(len(targets.tasks)),
        "target_range": dg.MetadataValue.text(f"[{targets.target_range[0]:g}, {targets.target_range[1]:g}]"),
        "target_distributions": inline_table(target_distributions(targets)),
        "families_without_data": dg.MetadataValue.text(", ".join(skipped) or "none"),
    }


def mutual_information_metadata(mi: pd.DataFrame, primary: str, home: Home, key: str) -> dict[str, dg.MetadataValue]:
    """The MI ranking as a table and as a bar chart, side by side on one asset."""
    title = f"{key}: MI with {primary}"
    return {
        "mi_ranking": inline_table(mi, digits=4),
        **plot_metadata("mi_plot", mi_ranking(mi, title), home.plot("mi", f"{key}.png"), title),
    }
