"""One body per pipeline step, called in one line by the asset and by the study jobs' op.

Each function takes the settings (and the run's resources or config) and the step's input tables,
and returns a `StepResult`: the table the step stores and the metadata the Dagster UI shows.  The
asset modules and `jobs.py` only wire these to Dagster: an edit here is what both run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
import pandas as pd
import torch

from hanrock_core.base.errors import InputError
from hanrock_core.base.home import Home
from hanrock_core.base.notices import WARNING, Notices
from hanrock_core.base.results import mutual_information_rows, view_rows
from hanrock_core.base.staged_results import gather, read_staged_rows, staged_only, write_rows
from hanrock_core.comparison.paired_comparison import VERDICTS
from hanrock_core.comparison.study_progress import completeness, write_significance_tables
from hanrock_core.learning.floor import CONDITION as FLOOR
from hanrock_core.learning.kept_model import card_row, folder_bytes, open_card, open_model
from hanrock_core.learning.task_data import with_min_count
from hanrock_core.preparation.auxiliary_target import (
    AuxiliarySpec,
    AuxiliaryTargets,
)
from hanrock_core.preparation.datasets import dataset_metrics, dataset_tasks, load_dataset
from hanrock_core.preparation.narrative import narrative_table
from hanrock_core.preparation.settings import Settings
from hanrock_core.reports.attention_html import write_attention_report
from hanrock_core.reports.attention_report import default_models, models_from_kept
from hanrock_core.reports.plots import FOREST_DPI, forest_plot
from hanrock_core.reports.study_summary import summary_lines
from hanrock_core.study.hypotheses import TABLE_VIEWS
from hanrock_core.study.partition_data import PartitionData
from hanrock_core.study.partition_loading import partition_from_tables, partition_targets
from hanrock_core.study.search import attach_vectors, run_hypothesis
from hanrock_core.study.study_health import describe, flagged_comparisons, health, partition_health
from hanrock_core.study.worker_pool import StepWaiting

from . import names
from .metadata import (
    auxiliary_metadata,
    corpus_metadata,
    inline_table,
    md_table,
    mutual_information_metadata,
    narrative_metadata,
    plot_metadata,
)
from .pages import partition_links
from .resources import NarrativeResource, StudyResource
from .run_config import AttentionReportConfig, AuxiliaryConfig, Family
from .storage import read_table
from .study_pages import (
    MARKS,
    answer_table,
    filled_columns,
    p_value_table,
    short_markdown,
    staged_key,
    trials_metadata,
)

SIGNIFICANCE_CHECK = names.SIGNIFICANCE_CHECK
HEALTH_CHECK = names.HEALTH_CHECK
DECIDED_CHECK = names.DECIDED_CHECK


@dataclass
class CheckResult:
    """An asset check's outcome: its name, whether it passed, its metadata."""

    name: str
    passed: bool
    metadata: dict[str, dg.MetadataValue]
    blocking: bool = False  # a failed blocking check stops what follows (an ERROR); the others warn
    description: str | None = None  # what the UI says beside the outcome (e.g. "undecided: aphf vs none")

    @property
    def severity(self) -> dg.AssetCheckSeverity:
        return dg.AssetCheckSeverity.ERROR if self.blocking else dg.AssetCheckSeverity.WARN


@dataclass
class StepResult:
    """What a step produced: the table stored for its asset (None: rows in DuckDB or a file), the UI's
    metadata, and the asset checks it evaluated."""

    table: pd.DataFrame | None
    metadata: dict[str, dg.MetadataValue]
    checks: list[CheckResult] = field(default_factory=list)
    failure: dg.Failure | None = None  # raised by the wiring once the checks are recorded


def asset_output(context: dg.AssetExecutionContext, results: dict[str, StepResult]):
    """What a dataset-partitioned asset returns to the IO manager: one table (and its metadata) for a
    one-partition run, a dict partition -> table (and a row count per partition) for a range."""
    if len(results) == 1:
        (result,) = results.values()
        context.add_output_metadata(result.metadata)
        return result.table
    context.add_output_metadata(
        {
            "partitions": dg.MetadataValue.md(
                "\n".join(f"- {key}: {len(r.table):,} talkturns" for key, r in results.items())
            )
        }
    )
    return {key: r.table for key, r in results.items()}


def split_task_key(key: str) -> tuple[str, str]:
    """`iemocap.emotion` -> ("iemocap", "emotion")."""
    dataset, task = key.split(".", 1)
    return dataset, task


def stored(settings: Settings, asset: str, key: str | None) -> pd.DataFrame:
    """An upstream asset's stored partition (what the IO manager hands an asset as an input)."""
    return read_table(settings.home, asset, key)


@dataclass(frozen=True)
class TaskInputs:
    """The four stored tables a dataset.task step trains on (the assets' inputs of the same names)."""

    raw_sessions: pd.DataFrame
    monah_narratives: pd.DataFrame
    auxiliary_targets: pd.DataFrame
    mutual_information: pd.DataFrame


def task_inputs(settings: Settings, key: str) -> TaskInputs:
    """A dataset.task's inputs as the study job's ops read them from storage."""
    dataset, _ = split_task_key(key)
    return TaskInputs(
        stored(settings, names.RAW_SESSIONS, dataset),
        stored(settings, names.MONAH_NARRATIVES, dataset),
        stored(settings, names.AUXILIARY_TARGETS, key),
        stored(settings, names.MUTUAL_INFORMATION, key),
    )


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


def monah_narratives(
    settings: Settings, raw: pd.DataFrame, dataset: str, narratives: NarrativeResource, log
) -> StepResult:
    """Per talkturn: verbatim text, MONAH narrative and the normalised model input, by the dataset's recipe
    (its settings', or the run's)."""
    try:
        recipe = narratives.recipe(settings, dataset)
    except InputError as exc:
        raise dg.Failure(description=f"{dataset}: {exc}") from None
    table = narrative_table(raw, recipe)
    log.info(
        f"{dataset}: wrote {len(table):,} {recipe.family} narratives"
        + (f" keeping {recipe.keep_punctuation!r}" if recipe.keep_punctuation else "")
    )
    return StepResult(table, narrative_metadata(table, recipe.family))


# --- auxiliary targets -----------------------------------------------------------------------------


def auxiliary_targets(
    settings: Settings, raw: pd.DataFrame, key: str, config: AuxiliaryConfig, log
) -> tuple[StepResult, StepResult]:
    """Targets and their MI with the primary task (MI rows also go to DuckDB) for one dataset.task.

    Families without any data in this dataset are left out, with a warning in the log.
    """
    dataset, task = split_task_key(key)
    spec = AuxiliarySpec(
        None if config.families is None else tuple(Family(f).value for f in config.families),
        {k: tuple(v) for k, v in config.extra.items()},
    )
    targets, mi, empty = partition_targets(raw, task, spec, config.mi_seed)
    if empty:
        usable = list(dict.fromkeys(targets.family.values()))
        log.warning(f"no data for auxiliary families {empty} in this dataset: training goes on with {usable}")
    write_rows(
        settings.home,
        "mutual_information",
        {"dataset": dataset, "task": task},
        mutual_information_rows(dataset, task, mi),
        log.info,
    )
    log.info(
        f"{key}: {len(targets.tasks)} auxiliary targets; top MI "
        + ", ".join(f"{r.task} {r.mi:.3f}" for r in mi.head(3).itertuples())
    )
    return (
        StepResult(targets.table, auxiliary_metadata(targets, empty)),
        StepResult(mi, mutual_information_metadata(mi, targets.primary, settings.home, key)),
    )


def task_keys(settings: Settings, datasets: list[str]) -> list[str]:
    """Every dataset.task of the named datasets (the study jobs' second fan-out)."""
    return [f"{dataset}.{task}" for dataset in sorted(datasets) for task in dataset_tasks(settings, dataset)]


def selected_datasets(settings: Settings, named: list[str]) -> list[str]:
    """The datasets a run covers: those it names (each must be configured), else every configured one."""
    configured = sorted(settings.datasets)
    unknown = sorted(set(named) - set(configured))
    if unknown:
        raise dg.Failure(
            description=f"run config names datasets {unknown} that are not configured; configured: "
            f"{configured} (declare your own under `datasets:` in hanrock.yaml)"
        )
    return sorted(named) or configured


def selected_tasks(keys: list[str], named: list[str]) -> list[str]:
    """The dataset.task keys a run covers: those it names (each must be one of the run's datasets'), else all."""
    unknown = sorted(set(named) - set(keys))
    if unknown:
        raise dg.Failure(
            description=f"run config names tasks {unknown} that the run's datasets do not have; they have: {keys}"
        )
    return [k for k in keys if k in named] if named else keys


# --- studies ---------------------------------------------------------------------------------------


def partition_data(settings: Settings, key: str, inputs: TaskInputs) -> PartitionData:
    """The training data of one dataset.task from its four input tables (study/partition_loading.py)."""
    dataset, task = split_task_key(key)
    targets = AuxiliaryTargets.from_tables(inputs.auxiliary_targets, inputs.mutual_information, task)
    try:
        return partition_from_tables(
            dataset,
            task,
            inputs.raw_sessions,
            inputs.monah_narratives,
            targets,
            inputs.mutual_information,
            dataset_metrics(settings, dataset)[task],
        )
    except InputError as exc:
        raise dg.Failure(description=f"{dataset}: {exc}") from None


def trials(
    settings: Settings, study: StudyResource, hypothesis: str, key: str, inputs: TaskInputs, log, run_id: str
) -> StepResult:
    """Every condition of `hypothesis` on one dataset.task (and its bag-of-words floor); rows in DuckDB."""
    with StepWaiting(settings.home) as announced:  # before loading: the steps launched with this one see it
        part = partition_data(settings, key, inputs)
        try:
            table = run_hypothesis(
                part,
                study.load(settings),
                hypothesis,
                settings.home,
                log=log.info,
                storage_url=study.study_storage(),
                threads=study.threads(),
                announced=announced,
                on_changed_inputs=study.changed_inputs(),
                owner=f"Dagster run {run_id}",
            )
        except InputError as exc:  # what the user can fix: said in words, without a traceback
            raise dg.Failure(description=f"{hypothesis} {key}: {exc}") from None
    check = health_check(settings.home, hypothesis, key, table, log)
    return StepResult(table, trials_metadata(table, settings.home, hypothesis, key, part), [check])


def health_check(home: Home, hypothesis: str, key: str, table: pd.DataFrame, log) -> CheckResult:
    """The non-blocking `study_health` check of a partition's study: trials at chance level, a selected
    model still improving or below the floor, a large dev/test gap (hanrock_core/study/study_health.py)."""
    stage_key = staged_key(hypothesis, key, table)
    rows = partition_health(
        {
            name: read_staged_rows(home, name, stage_key)
            for name in ("all_trials", "all_chance_levels", "study_identities")
        }
    )
    problems = describe(rows)
    for line in problems:
        log.warning(f"study health: {line}")
    shown = rows.assign(**{"dataset.task": key})[
        [
            "dataset.task",
            "condition",
            "trials",
            "trials_at_chance",
            "chance_dev",
            "selected_trial",
            "selected_dev",
            "best_epoch",
            "epochs_run",
            "stopped",
            "floor_dev",
            "dev_test_gap",
            "flags",
        ]
    ].round(4)
    return CheckResult(
        HEALTH_CHECK,
        not problems,
        {
            "health": inline_table(shown),
            "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
        },
    )


def _supervisors(card: dict) -> str:
    """Which auxiliary targets supervised a kept model ("none": the primary task alone)."""
    weights = card.get("loss_weights") or {}
    used = [task for task, weight in weights.items() if task != "primary" and weight > 0]
    return f"{len(used)} auxiliary targets" if used else "the primary task alone"


def _better_kept(best: tuple | None, condition: str, card: dict) -> tuple:
    """(dev value, condition) of the better of two kept models on dev (the selection's direction)."""
    value = card["metrics"]["dev"].get(card["selection"]["metric"], float("nan"))
    sign = 1 if card["selection"]["higher_is_better"] else -1
    if best is None or (value == value and sign * value > sign * best[0]):
        return (value, condition)
    return best


def models(settings: Settings, hypothesis: str, key: str, trials_table: pd.DataFrame, log) -> StepResult:
    """The kept model of every searched condition of one dataset.task, checked against its SHA-256 sums.

    A changed model fails the step (it would be refused by `hanrock predict`); a condition without
    a kept model (trained before models were kept) is listed and logged, never hidden."""
    folder = settings.home.model_dir(hypothesis, key)
    rows, missing, labels, best_dev = [], [], None, None
    conditions = [c for c in dict.fromkeys(trials_table["condition"]) if c != FLOOR] if len(trials_table) else []
    for condition in conditions:
        kept = settings.home.model_dir(hypothesis, key, condition)
        if not kept.exists():
            missing.append(condition)
            continue
        try:
            card = open_card(kept)
        except InputError as exc:
            raise dg.Failure(description=f"{hypothesis} {key} {condition}: {exc}") from None
        labels = card["labels"]
        row = {"condition": condition, "supervised by": _supervisors(card), **card_row(card)}
        rows.append({**row, "MB": round(folder_bytes(kept) / 1e6, 2)})
        best_dev = _better_kept(best_dev, condition, card)
    for condition in missing:
        log.warning(
            f"{hypothesis} {key} {condition}: no kept model in {folder} (its selected trial's state is gone and "
            "training it again did not reproduce its recorded dev value: the training step's log says so); re-run "
            "the study on the machine that trained it, or with another profile to train new studies"
        )
    table = pd.DataFrame(rows)
    log.info(f"{hypothesis} {key}: {len(rows)} kept models, {folder_bytes(folder) / 1e6:.1f} MB in {folder}")
    example = f"{hypothesis}/{key}/{best_dev[1] if best_dev else 'CONDITION'}"
    return StepResult(
        None,
        {
            "models": inline_table(table) if rows else dg.MetadataValue.text("none"),
            "architectures": dg.MetadataValue.md(
                "Every condition keeps the architecture of its hypothesis; a baseline without auxiliary "
                "targets (H1 `none`) still has A auxiliary units, trained by the primary task alone."
            ),
            "missing": dg.MetadataValue.text(", ".join(missing) or "none"),
            "labels": dg.MetadataValue.text(
                ", ".join(labels["classes"])
                if labels and labels["kind"] == "class"
                else f"regression, train range {labels['train_range']}"
                if labels
                else "none"
            ),
            "disk_bytes": dg.MetadataValue.int(folder_bytes(folder)),
            "folder": dg.MetadataValue.path(str(folder)),
            "predict": dg.MetadataValue.md(
                f"The best model on dev here: `hanrock predict {example} talkturns.parquet --out predictions.parquet`"
            ),
        },
    )


def significance(settings: Settings, study: StudyResource, hypothesis: str, keys: list[str], log) -> StepResult:
    """The whole significance step of a hypothesis over the dataset.task `keys` (what the asset and the
    study job's op both run): the blocking `all_partitions_trained` check first (rows that training
    steps only staged are gathered into DuckDB before it); when it fails, the result holds the check
    and the failure to raise; else both methods' tables and what the UI shows, the answer first: the
    verdict of every comparison, the forest plot, the paper's view, and every partition's study health
    (a second, non-blocking check)."""
    db = settings.home.results_db
    if staged_only():
        gather(settings.home, {"hypothesis": hypothesis}, log=log.info)
    problems = completeness(db, hypothesis, study.load(settings), keys)
    check = CheckResult(
        SIGNIFICANCE_CHECK,
        not problems,
        {"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")},
        blocking=True,
    )
    if problems:
        failure = dg.Failure(description=f"{hypothesis} significance needs every partition: " + "; ".join(problems[:5]))
        return StepResult(None, {}, [check], failure)
    table, _ = write_significance_tables(db, hypothesis, study.load(settings), log.info)
    view = TABLE_VIEWS[hypothesis]
    shown = view_rows(db, view, log.info)
    rows = health(db, hypothesis, sorted(set(table["dataset"] + "." + table["task"])) if len(table) else [])
    flagged = flagged_comparisons(table, rows)
    summary = summary_lines(hypothesis, table, rows)
    log.info("\n".join(summary))  # the run's last words: what the study found, in plain sentences
    verdicts = view_rows(db, "comparison_verdicts", log.info)
    verdicts = verdicts[verdicts["hypothesis"] == hypothesis].drop(columns="hypothesis")
    weak = int(verdicts["health"].fillna("").str.contains("weak test").sum())
    undecided = verdicts.loc[verdicts["verdict"] == "undecided", "comparison"].tolist()
    missing = verdicts.loc[~verdicts["verdict"].isin(VERDICTS), "comparison"].tolist()
    decided = CheckResult(
        DECIDED_CHECK,
        not missing,  # fails only when a comparison has no verdict; an undecided one is said, not failed
        {
            "answer": inline_table(answer_table(verdicts)),
            "what each test answers": inline_table(
                verdicts[["test", "estimand"]].drop_duplicates().reset_index(drop=True)
            ),
            "p values": inline_table(p_value_table(verdicts)),
            "undecided": dg.MetadataValue.int(len(undecided)),
            "weak tests": dg.MetadataValue.int(weak),
            "whole table": dg.MetadataValue.md("`hanrock results verdicts` (or `comparison_verdicts` in SQL)"),
        },
        description=(f"no verdict: {', '.join(missing)}" if missing else "")
        + (
            f"undecided (a warning, not a failure): {', '.join(undecided[:6])}" + (" ..." if len(undecided) > 6 else "")
            if undecided
            else "every comparison decided: better, worse or equivalent"
        ),
    )
    title = hypothesis.upper()
    return StepResult(
        None,
        {
            # the answer first and narrow enough for a laptop beside Dagster's panels (every entry wraps or fits
            # 380 pixels: one wider entry would make the whole metadata table scroll sideways)
            "answer": inline_table(answer_table(verdicts)),
            **plot_metadata(
                "forest plot",
                forest_plot(table, title),
                settings.home.plot(hypothesis, "forest.png"),
                title,
                FOREST_DPI,
            ),
            "summary": dg.MetadataValue.md(short_markdown(summary)),
            view: inline_table(filled_columns(shown)),
            "how to read": dg.MetadataValue.md(MARKS),
            **{
                f"{word} comparisons": dg.MetadataValue.int(int((verdicts["verdict"] == word).sum()))
                for word in VERDICTS
            },
            "A.4 significant": dg.MetadataValue.int(int(table.loc[table["method"] == "paper", "significant"].sum())),
            "comparisons": dg.MetadataValue.int(len(verdicts)),
            "weak tests": dg.MetadataValue.int(weak),
            "flagged models": dg.MetadataValue.int(flagged),
            "sql": dg.MetadataValue.md(
                f"`hanrock results verdicts`, `hanrock results {view}`, `hanrock results views` (what each view "
                "holds); in SQL: `SELECT * FROM comparison_verdicts` on the results file"
            ),
            "trials": dg.MetadataValue.md(
                partition_links(names.trials(hypothesis), keys, "The trials of each dataset.task").strip()
            ),
        },
        [check, decided, all_health_check(rows)],
    )


def all_health_check(rows: pd.DataFrame) -> CheckResult:
    """The non-blocking `study_health` check of the significance asset: every dataset.task x condition of the
    hypothesis in one table, flagged rows first."""
    if rows.empty:
        return CheckResult(HEALTH_CHECK, True, {"health": dg.MetadataValue.text("no partition trained")})
    shown = rows.assign(**{"dataset.task": rows["dataset"] + "." + rows["task"]})
    shown = shown.assign(_flagged=shown["flags"].fillna("") == "").sort_values(["_flagged", "dataset.task"])
    columns = ["dataset.task", "condition", "trials", "trials_at_chance", "selected_dev", "selected_test"]
    columns += ["floor_dev", "flags"]
    problems = describe(rows)
    return CheckResult(
        HEALTH_CHECK,
        not problems,
        {
            "health": inline_table(shown[columns].round(3)),
            "flagged": dg.MetadataValue.int(len(problems)),
        },
    )


# --- reports ---------------------------------------------------------------------------------------


def attention_report(
    settings: Settings, study: StudyResource, config: AttentionReportConfig, key: str, inputs: TaskInputs, log
) -> StepResult:
    """The page of the kept H1 all-families model (MTL) beside its STL twin, trained here; without a study,
    both trained with the profile's defaults."""
    home = settings.home
    part = partition_data(settings, key, inputs)
    profile = study.load(settings)
    part.data = with_min_count(part.data, profile.min_count)  # the models are the study's: the same vocabulary
    if profile.embeddings is not None:  # ... and the same word vectors
        attach_vectors(part, profile, log.info, home)
    torch.set_num_threads(study.threads())  # like a training step: one step per core under the multiprocess executor
    kept = home.model_dir(config.hypothesis, key, config.condition)
    if kept.exists():
        try:
            models = models_from_kept(open_model(kept), part.data)
        except InputError as exc:
            raise dg.Failure(description=f"{key}: {exc}") from None
    else:
        log.info(
            f"no kept {config.hypothesis} {config.condition} model for {key} ({kept} is absent): "
            "training both models with the profile's defaults"
        )
        models = default_models(part.data, part.mi, profile, config.seed)
    out = home.attention_page(key)
    model_inputs = inputs.monah_narratives.set_index("utterance_id")["model_input"]
    summary = write_attention_report(
        part.data,
        models,
        inputs.raw_sessions,
        model_inputs,
        f"Attention report: {key}",
        home.report_models(key),
        out,
        config.samples,
        config.seed,
        log.info,
    )
    metric, _ = part.data.selection
    return StepResult(
        None,
        {
            "report": dg.MetadataValue.path(str(out)),
            "open": dg.MetadataValue.url(out.resolve().as_uri()),
            "models_from": dg.MetadataValue.text(summary.source),
            "examples": dg.MetadataValue.int(summary.examples),
            f"mtl_test_{metric}": dg.MetadataValue.float(float(summary.test_metrics["mtl"][metric])),
            f"stl_test_{metric}": dg.MetadataValue.float(float(summary.test_metrics["stl"][metric])),
            "same_prediction_share": dg.MetadataValue.float(summary.agreement),
            "talkturn_attention_by_position": md_table(summary.positions.round(3).reset_index(names="talkturn")),
        },
    )
