"""One body per pipeline step, called in one line by the asset and by the study jobs' op.

Each function takes the settings (and the run's resources or config) and the step's input tables,
and returns a `StepResult`: the table the step stores and the metadata the Dagster UI shows.  The
asset modules and `jobs.py` only wire these to Dagster: an edit here is what both run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd
import torch

from hanrock_core.attention_html import write_attention_report
from hanrock_core.attention_report import default_models, models_from_kept
from hanrock_core.auxiliary_target import AuxiliarySpec, AuxiliaryTargets, available_families, build_auxiliary_targets
from hanrock_core.datasets import dataset_metrics, dataset_tasks, load_dataset
from hanrock_core.errors import InputError
from hanrock_core.floor import CONDITION as FLOOR
from hanrock_core.loss_weight import mutual_information
from hanrock_core.narrative import narrative_table
from hanrock_core.notices import WARNING, Notices
from hanrock_core.plots import forest_plot, learning_curve, plot_dir
from hanrock_core.results import mutual_information_rows, view_rows
from hanrock_core.search import PartitionData, attach_vectors, run_hypothesis
from hanrock_core.settings import Settings
from hanrock_core.staged_results import gather, staged_file, staged_only, write_rows
from hanrock_core.study import TABLE_VIEWS
from hanrock_core.study_health import describe, flagged_comparisons, health, partition_health
from hanrock_core.study_progress import completeness, write_significance_tables
from hanrock_core.trained_model import folder_bytes, open_card, open_model
from hanrock_core.worker_slots import StepWaiting

from .metadata import auxiliary_metadata, corpus_metadata, md_table, narrative_metadata, plot_metadata
from .resources import StudyResource
from .run_config import AttentionReportConfig, AuxiliaryConfig, Family, NarrativeConfig, NarrativeFamily
from .storage import read_table

SIGNIFICANCE_CHECK = "all_partitions_trained"
HEALTH_CHECK = "study_health"


@dataclass
class CheckResult:
    """An asset check's outcome: its name, whether it passed, its metadata."""

    name: str
    passed: bool
    metadata: dict[str, dg.MetadataValue]


@dataclass
class StepResult:
    """What a step produced: the table stored for its asset (None: rows in DuckDB or a file), the UI's
    metadata, and the asset checks it evaluated."""

    table: pd.DataFrame | None
    metadata: dict[str, dg.MetadataValue]
    checks: list[CheckResult] = field(default_factory=list)


def asset_output(context: dg.AssetExecutionContext, results: dict[str, StepResult]):
    """What a dataset-partitioned asset returns to the IO manager: one table (and its metadata) for a
    one-partition run, a dict partition -> table (and a row count per partition) for a range."""
    if len(results) == 1:
        (result,) = results.values()
        context.add_output_metadata(result.metadata)
        return result.table
    context.add_output_metadata({"partitions": dg.MetadataValue.md(
        "\n".join(f"- {key}: {len(r.table):,} talkturns" for key, r in results.items()))})
    return {key: r.table for key, r in results.items()}


def split_task_key(key: str) -> tuple[str, str]:
    """`iemocap.emotion` -> ("iemocap", "emotion")."""
    dataset, task = key.split(".", 1)
    return dataset, task


def results_db(settings: Settings) -> Path:
    return settings.home / "results.duckdb"


def stored(settings: Settings, asset: str, key: str | None) -> pd.DataFrame:
    """An upstream asset's stored partition (what the IO manager hands an asset as an input)."""
    return read_table(settings.home / "assets", asset, key)


def task_inputs(settings: Settings, key: str) -> dict[str, pd.DataFrame]:
    """The four stored tables a dataset.task step trains on, by input name."""
    dataset, _ = split_task_key(key)
    return {"raw_sessions": stored(settings, "raw_sessions", dataset),
            "monah_narratives": stored(settings, "monah_narratives", dataset),
            "auxiliary_targets": stored(settings, "auxiliary_targets", key),
            "mutual_information": stored(settings, "mutual_information", key)}


# --- corpus and narratives -------------------------------------------------------------------------

def raw_sessions(settings: Settings, dataset: str, log) -> StepResult:
    """The talkturn table of a dataset from its raw layout; what the reader left out is logged and in the metadata.

    Bad input fails the step with its file and line (a `dg.Failure`, no traceback).
    """
    notices = Notices()
    try:
        table, root = load_dataset(settings, dataset, log=log.info, notices=notices)
    except InputError as exc:
        raise dg.Failure(description=f"{dataset}: {exc}", metadata={"error": dg.MetadataValue.text(str(exc))}) from None
    finally:
        for notice in notices.items:
            (log.warning if notice.level == WARNING else log.info)(f"{dataset}: {notice.render()}")
    log.info(f"{dataset}: {len(table):,} talkturns in {table['dialogue'].nunique():,} dialogues")
    return StepResult(table, corpus_metadata(table, str(root), notices))


def monah_narratives(raw: pd.DataFrame, dataset: str, config: NarrativeConfig, log) -> StepResult:
    """Per talkturn: verbatim text, MONAH narrative and the normalised model input."""
    family = NarrativeFamily(config.family).value
    narratives = narrative_table(raw, family, config.keep_punctuation)
    log.info(f"{dataset}: wrote {len(narratives):,} {family} narratives")
    return StepResult(narratives, narrative_metadata(narratives, family))


# --- auxiliary targets -----------------------------------------------------------------------------

def auxiliary_targets(settings: Settings, raw: pd.DataFrame, key: str, config: AuxiliaryConfig,
                      log) -> tuple[StepResult, StepResult]:
    """Targets and their MI with the primary task (MI rows also go to DuckDB) for one dataset.task.

    Families without any data in this dataset are left out, with a warning in the log.
    """
    dataset, task = split_task_key(key)
    spec = AuxiliarySpec(tuple(Family(f).value for f in config.families), {k: tuple(v) for k, v in config.extra.items()})
    usable, empty = available_families(raw, spec)
    if empty:
        log.warning(f"no data for auxiliary families {empty} in this dataset: training goes on with {usable}")
    targets = build_auxiliary_targets(raw, task, AuxiliarySpec(tuple(usable), spec.extra))
    mi = mutual_information(targets, seed=config.mi_seed)
    write_rows(results_db(settings), "mutual_information", {"dataset": dataset, "task": task},
               mutual_information_rows(dataset, task, mi), log.info)
    log.info(f"{key}: {len(targets.tasks)} auxiliary targets; top MI "
             + ", ".join(f"{r.task} {r.mi:.3f}" for r in mi.head(3).itertuples()))
    meta = auxiliary_metadata(targets, mi, empty, settings.home, key)
    return StepResult(targets.table, meta), StepResult(mi, {"mi_ranking": meta["mi_ranking"]})


def task_keys(settings: Settings, datasets: list[str]) -> list[str]:
    """Every dataset.task of the named datasets (the study jobs' second fan-out)."""
    return [f"{dataset}.{task}" for dataset in sorted(datasets) for task in dataset_tasks(settings, dataset)]


def selected_datasets(settings: Settings, named: list[str]) -> list[str]:
    """The datasets a run covers: those it names (each must be configured), else every configured one."""
    configured = sorted(settings.datasets)
    unknown = sorted(set(named) - set(configured))
    if unknown:
        raise dg.Failure(description=f"run config names datasets {unknown} that are not configured; configured: "
                                     f"{configured} (declare your own under `datasets:` in hanrock.yaml)")
    return sorted(named) or configured


# --- studies ---------------------------------------------------------------------------------------

def partition_data(settings: Settings, key: str, inputs: dict[str, pd.DataFrame]) -> PartitionData:
    """The training data of one dataset.task from its four input tables."""
    dataset, task = split_task_key(key)
    narratives = inputs["monah_narratives"]
    if "narrative_family" not in narratives.columns:
        raise dg.Failure(description=f"{dataset}: the stored monah_narratives predate the columns that say how they were "
                                     "built (narrative_family, keep_punctuation); materialise monah_narratives again")
    model_inputs = narratives.set_index("utterance_id")["model_input"]
    targets = AuxiliaryTargets.from_tables(inputs["auxiliary_targets"], inputs["mutual_information"], task)
    how = (str(narratives["narrative_family"].iloc[0]), str(narratives["keep_punctuation"].iloc[0])) if len(narratives) \
        else ("vpa", "")
    return PartitionData.build(dataset, task, inputs["raw_sessions"], model_inputs, targets,
                               inputs["mutual_information"], dataset_metrics(settings, dataset)[task], narrative=how)


def trials(settings: Settings, study: StudyResource, hypothesis: str, key: str, inputs: dict[str, pd.DataFrame],
           log) -> StepResult:
    """Every condition of `hypothesis` on one dataset.task (and its bag-of-words floor); rows in DuckDB."""
    with StepWaiting(settings.home) as announced:  # before loading: the steps launched with this one see it
        part = partition_data(settings, key, inputs)
        try:
            table = run_hypothesis(part, study.load(settings), hypothesis, settings.home / "studies",
                                   results_db(settings), log=log.info, storage_url=study.study_storage(),
                                   threads=study.threads(), announced=announced,
                                   on_changed_inputs=study.changed_inputs())
        except InputError as exc:  # what the user can fix: said in words, without a traceback
            raise dg.Failure(description=f"{hypothesis} {key}: {exc}") from None
    check = health_check(results_db(settings), hypothesis, key, table, log)
    return StepResult(table, trials_metadata(table, results_db(settings), hypothesis, key, part), [check])


def _stage_key(hypothesis: str, key: str, table: pd.DataFrame) -> dict:
    dataset, task = split_task_key(key)
    return {"hypothesis": hypothesis, "dataset": dataset, "task": task, "identity": str(table["identity"].iloc[0])}


def health_check(db: Path, hypothesis: str, key: str, table: pd.DataFrame, log) -> CheckResult:
    """The non-blocking `study_health` check of a partition's study: trials at chance level, a selected
    model still improving or below the floor, a large dev/test gap (hanrock_core/study_health.py)."""
    stage_key = _stage_key(hypothesis, key, table)
    rows = partition_health({name: pd.read_parquet(staged_file(db, name, stage_key))
                             for name in ("all_trials", "all_chance_levels", "study_identities")})
    problems = describe(rows)
    for line in problems:
        log.warning(f"study health: {line}")
    shown = rows[["condition", "trials", "trials_at_chance", "chance_dev", "selected_trial", "selected_dev",
                  "best_epoch", "epochs_run", "stopped", "floor_dev", "dev_test_gap", "flags"]].round(4)
    return CheckResult(HEALTH_CHECK, not problems, {
        "health": md_table(shown.fillna("")),
        "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
    })


def trials_metadata(table: pd.DataFrame, db: Path, hypothesis: str, key: str, part: PartitionData) -> dict:
    """Best trial per condition (the floor among them), pruned and failed counts, the selected trial's
    learning curve, and the word vectors' coverage."""
    done = table[table["state"] != "failed"].dropna(subset=["dev_value"])
    higher = bool(len(done)) and done["metric"].iloc[0] != "mae"
    best = done.sort_values("dev_value", ascending=not higher).groupby("condition").head(1)
    neural = best[best["condition"] != FLOOR]  # the learning curve is a searched model's
    columns = ["condition", "trial", "dev_value", "test_value", "best_epoch", "learning_rate", "batch_size",
               "primary_units", "aux_units", "content_size", "weight_scheme", "primary_weight"]
    meta = {
        "dagster/row_count": dg.MetadataValue.int(len(table)),
        "best_trials": md_table(best[columns].round(4)),
        "pruned_trials": dg.MetadataValue.int(int((table["state"] == "pruned").sum())),
        "failed_trials": dg.MetadataValue.int(int((table["state"] == "failed").sum())),
        "selection_metric": dg.MetadataValue.text(str(done["metric"].iloc[0]) if len(done) else "none"),
        "word_vectors": dg.MetadataValue.text(part.vectors.describe() if part.vectors
                                              else "none (embeddings learnt from scratch)"),
    }
    stage_key = _stage_key(hypothesis, key, table)
    meta.update(identity_metadata(pd.read_parquet(staged_file(db, "study_identities", stage_key)).iloc[0]))
    if len(neural):
        top = neural.iloc[0]
        epochs = pd.read_parquet(staged_file(db, "all_epochs", stage_key))
        curve = epochs[(epochs["condition"] == top["condition"]) & (epochs["trial"] == int(top["trial"]))]
        curve = curve.sort_values("epoch")[["epoch", "dev_value", "test_value"]]
        title = f"{key} {top['condition']} trial {top['trial']}"
        meta.update(plot_metadata("learning_curve", learning_curve(curve, title, top["metric"]),
                                  plot_dir(db.parent) / hypothesis / f"{key}.learning_curve.png", title))
    return meta


def identity_metadata(row: pd.Series) -> dict:
    """What the studies were trained on, and what changed since the studies they superseded."""
    parts = json.loads(row["parts"])
    meta = {"study_identity": dg.MetadataValue.text(str(row["identity"])),
            "profile": dg.MetadataValue.text(str(row["profile"])),
            "inputs": dg.MetadataValue.json(parts)}
    if isinstance(row.get("previous"), str):
        meta["superseded"] = dg.MetadataValue.md(
            f"These inputs differ from those of the studies this partition used before ({row['previous']}) in: "
            f"**{row['differs']}**. New studies were trained; the old ones stay queryable "
            "(`hanrock results superseded`) and no table mixes them.")
    return meta


def models(settings: Settings, hypothesis: str, key: str, trials_table: pd.DataFrame, log) -> StepResult:
    """The kept model of every searched condition of one dataset.task, checked against its SHA-256 sums.

    A changed model fails the step (it would be refused by `hanrock predict`); a condition without
    a kept model (trained before models were kept) is listed and logged, never hidden."""
    folder = settings.home / "models" / hypothesis / key
    rows, missing, labels = [], [], None
    conditions = [c for c in dict.fromkeys(trials_table["condition"]) if c != FLOOR] if len(trials_table) else []
    for condition in conditions:
        if not (folder / condition / "SHA256SUMS").exists():
            missing.append(condition)
            continue
        try:
            card = open_card(folder / condition)
        except InputError as exc:
            raise dg.Failure(description=f"{hypothesis} {key} {condition}: {exc}") from None
        metric, shape, labels = card["selection"]["metric"], card["shape"], card["labels"]
        rows.append({"condition": condition, "trial": card["trial"], "state": card["state"], "epoch": card["best_epoch"],
                     f"dev {metric}": round(card["metrics"]["dev"].get(metric, float("nan")), 4),
                     f"test {metric}": round(card["metrics"]["test"].get(metric, float("nan")), 4),
                     "architecture": shape["architecture"], "P": shape["primary_units"], "A": shape["aux_units"],
                     "content size": card["inputs"]["content_size"], "vocabulary": card["inputs"]["vocabulary_size"],
                     "narratives": card["inputs"]["narrative_family"], "MB": round(folder_bytes(folder / condition) / 1e6, 2),
                     "weights sha256": card["files"]["weights.pt"]["sha256"][:16]})
    for condition in missing:
        log.warning(f"{hypothesis} {key} {condition}: no kept model in {folder / condition} (its selected trial ran "
                    "before models were kept); re-run the study in a fresh data directory to keep one")
    table = pd.DataFrame(rows)
    log.info(f"{hypothesis} {key}: {len(rows)} kept models, {folder_bytes(folder) / 1e6:.1f} MB in {folder}")
    example = f"{hypothesis}/{key}/{rows[0]['condition']}" if rows else f"{hypothesis}/{key}/CONDITION"
    return StepResult(None, {
        "models": md_table(table) if rows else dg.MetadataValue.text("none"),
        "missing": dg.MetadataValue.text(", ".join(missing) or "none"),
        "labels": dg.MetadataValue.text(", ".join(labels["classes"]) if labels and labels["kind"] == "class"
                                        else f"regression, train range {labels['train_range']}" if labels else "none"),
        "disk_bytes": dg.MetadataValue.int(folder_bytes(folder)),
        "folder": dg.MetadataValue.path(str(folder)),
        "predict": dg.MetadataValue.md(f"`hanrock predict {example} talkturns.parquet --out predictions.parquet`"),
    })


def significance_problems(settings: Settings, study: StudyResource, hypothesis: str, keys: list[str],
                          log) -> list[str]:
    """What the blocking `all_partitions_trained` check finds missing among `keys` (empty: passed).

    Rows that training steps only staged (a distributed run) are gathered into DuckDB first."""
    if staged_only():
        gather(results_db(settings), {"hypothesis": hypothesis}, log=log.info)
    return completeness(results_db(settings), hypothesis, study.load(settings), keys)


def check_metadata(problems: list[str]) -> dict:
    """Metadata of the `all_partitions_trained` check: what is missing, or none."""
    return {"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")}


def incomplete(hypothesis: str, problems: list[str]) -> dg.Failure:
    return dg.Failure(description=f"{hypothesis} significance needs every partition: " + "; ".join(problems[:5]))


def significance(settings: Settings, study: StudyResource, hypothesis: str, log) -> StepResult:
    """The bootstrap tables of a hypothesis, then what the UI shows: counts, the paper's view, the forest plot."""
    db = results_db(settings)
    table, _ = write_significance_tables(db, hypothesis, study.load(settings), log.info)
    view = TABLE_VIEWS[hypothesis]
    shown = view_rows(db, view, log.info)
    log.info(f"{view}:\n{shown.to_string(index=False)}")
    rows = health(db, hypothesis, sorted(set(table["dataset"] + "." + table["task"])) if len(table) else [])
    flagged = flagged_comparisons(table, rows)
    log.info(f"{hypothesis}: {flagged} of {len(table)} comparisons involve a model the study-health check flags"
             + "".join(f"\n- {line}" for line in describe(rows)))
    title = f"{hypothesis.upper()}: challenger - baseline"
    return StepResult(None, {
        "significant": dg.MetadataValue.int(int(table["significant"].sum())),
        "comparisons": dg.MetadataValue.int(len(table)),
        "comparisons_with_a_flagged_model": dg.MetadataValue.int(flagged),
        view: md_table(shown),
        **plot_metadata("forest_plot", forest_plot(table, title), plot_dir(settings.home) / hypothesis / "forest.png", title),
        "sql": dg.MetadataValue.md(f"`duckdb {db} -c 'SELECT * FROM {view}'`"),
    })


# --- reports ---------------------------------------------------------------------------------------

def attention_report(settings: Settings, study: StudyResource, config: AttentionReportConfig, key: str,
                     inputs: dict[str, pd.DataFrame], log) -> StepResult:
    """The page of the kept H1 all-families model (MTL) beside its STL twin, trained here; without a study,
    both trained with the profile's defaults."""
    dataset, task = split_task_key(key)
    home = settings.home
    part = partition_data(settings, key, inputs)
    profile = study.load(settings)
    if profile.embeddings is not None:  # the models are the study's: the same word vectors
        attach_vectors(part, profile, log.info)
    torch.set_num_threads(study.threads())  # like a training step: one step per core under the multiprocess executor
    kept = home / "models" / config.hypothesis / key / config.condition
    if (kept / "SHA256SUMS").exists():
        try:
            models = models_from_kept(open_model(kept), part.data)
        except InputError as exc:
            raise dg.Failure(description=f"{key}: {exc}") from None
    else:
        log.info(f"no kept {config.hypothesis} {config.condition} model for {key} ({kept} is absent): "
                 "training both models with the profile's defaults")
        models = default_models(part.data, part.mi, profile, config.seed)
    out = home / "reports" / "attention" / f"{key}.html"
    model_inputs = inputs["monah_narratives"].set_index("utterance_id")["model_input"]
    summary = write_attention_report(part.data, models, inputs["raw_sessions"], model_inputs, f"Attention report: {key}",
                                     home / "reports" / "models" / key, out, config.samples, config.seed, log.info)
    metric, _ = part.data.selection
    return StepResult(None, {
        "report": dg.MetadataValue.path(str(out)),
        "open": dg.MetadataValue.url(out.resolve().as_uri()),
        "models_from": dg.MetadataValue.text(summary.source),
        "examples": dg.MetadataValue.int(summary.examples),
        f"mtl_test_{metric}": dg.MetadataValue.float(float(summary.test_metrics["mtl"][metric])),
        f"stl_test_{metric}": dg.MetadataValue.float(float(summary.test_metrics["stl"][metric])),
        "same_prediction_share": dg.MetadataValue.float(summary.agreement),
        "talkturn_attention_by_position": md_table(summary.positions.round(3).reset_index(names="talkturn")),
    })
