"""Trained models per hypothesis (partitioned by dataset x task) and their significance tables."""

import dataclasses

import dagster as dg
import pandas as pd
from pydantic import Field

from hanrock_core.auxiliary_target import AuxiliaryTargets
from hanrock_core.datasets import dataset_metrics
from hanrock_core.floor import CONDITION as FLOOR
from hanrock_core.plots import forest_plot, learning_curve, plot_dir
from hanrock_core.results import query, replace_rows
from hanrock_core.search import PartitionData, run_hypothesis
from hanrock_core.significance import hypothesis_tables
from hanrock_core.study import (
    TABLE_VIEWS,
    Profile,
    comparisons,
    conditions,
    load_profile,
)

from ..executors import TRAINING_STEP_TAGS
from ..metadata import md_table, plot_metadata
from ..partitions import TASK_KEYS, dataset_to_tasks, split_task_key, task_partitions
from ..resources import PlatformResource
from ..storage import read_table


class StudyResource(dg.ConfigurableResource):
    """The study profile (quick, paper, or a YAML file of your own) and where studies are stored."""

    profile: str = Field("quick", description="quick, standard (real text on a CPU), paper, or the path of a profile YAML file")
    storage_url: str = Field("", description="an Optuna RDB URL shared by several workers (empty: SQLite files)")
    torch_threads: int = Field(1, description="torch threads per training step; the multiprocess executor runs "
                                              "one step per core, so more threads than 1 oversubscribe the CPU")

    def load(self) -> Profile:
        return load_profile(self.profile)

    def threads(self) -> int:
        return max(1, self.torch_threads)


def load_partition(platform: PlatformResource, key: str) -> tuple[PartitionData, pd.DataFrame, pd.Series]:
    """The training data of one dataset.task from the stored assets, with its talkturn table and model inputs."""
    settings = platform.settings()
    base = settings.home / "assets"
    dataset, task = split_task_key(key)
    table = read_table(base, "raw_sessions", dataset)
    narratives = read_table(base, "monah_narratives", dataset).set_index("utterance_id")["model_input"]
    mi = read_table(base, "mutual_information", key)
    targets = AuxiliaryTargets.from_tables(read_table(base, "auxiliary_targets", key), mi, task)
    metric = dataset_metrics(settings, dataset)[task]
    return PartitionData.build(dataset, task, table, narratives, targets, mi, metric), table, narratives


def study_profile(platform: PlatformResource, study: StudyResource) -> Profile:
    """The run's profile; word vectors from the settings when the profile names none (they are this machine's)."""
    profile = study.load()
    settings = platform.settings()
    if profile.embeddings is None and settings.embeddings is not None:
        profile = dataclasses.replace(profile, embeddings=settings.embeddings)
    return profile


def train_partition(platform: PlatformResource, study: StudyResource, hypothesis: str, key: str,
                    log) -> tuple[pd.DataFrame, PartitionData]:
    """Run every condition of `hypothesis` on one dataset.task and write its rows to DuckDB."""
    settings = platform.settings()
    part, _, _ = load_partition(platform, key)
    trials = run_hypothesis(part, study_profile(platform, study), hypothesis, settings.home / "studies",
                            settings.home / "results.duckdb", log=log, storage_url=study.storage_url or None,
                            threads=study.threads())
    return trials, part


def trials_metadata(trials: pd.DataFrame, results_db, hypothesis: str, key: str, part: PartitionData | None = None) -> dict:
    """Best trial per condition (the bag-of-words floor among them), pruned counts, the selected trial's
    learning curve, and the word vectors' coverage."""
    done = trials[trials["state"] != "failed"].dropna(subset=["dev_value"])
    higher = bool(len(done)) and done["metric"].iloc[0] != "mae"
    best = done.sort_values("dev_value", ascending=not higher).groupby("condition").head(1)
    neural = best[best["condition"] != FLOOR]  # the learning curve is a searched model's
    columns = ["condition", "trial", "dev_value", "test_value", "best_epoch", "learning_rate", "batch_size",
               "primary_units", "aux_units", "content_size", "weight_scheme", "primary_weight"]
    dataset, task = split_task_key(key)
    meta = {
        "dagster/row_count": dg.MetadataValue.int(len(trials)),
        "best_trials": md_table(best[columns].round(4)),
        "pruned_trials": dg.MetadataValue.int(int((trials["state"] == "pruned").sum())),
        "failed_trials": dg.MetadataValue.int(int((trials["state"] == "failed").sum())),
        "selection_metric": dg.MetadataValue.text(str(done["metric"].iloc[0]) if len(done) else "none"),
        "word_vectors": dg.MetadataValue.text(part.vectors.describe() if part is not None and part.vectors
                                              else "none (embeddings learnt from scratch)"),
    }
    if len(neural):
        top = neural.iloc[0]
        curve = query(results_db, "SELECT epoch, dev_value, test_value FROM epochs WHERE hypothesis = ? AND dataset = ? "
                      "AND task = ? AND condition = ? AND trial = ? ORDER BY epoch",
                      [hypothesis, dataset, task, top["condition"], int(top["trial"])])
        title = f"{key} {top['condition']} trial {top['trial']}"
        meta.update(plot_metadata("learning_curve", learning_curve(curve, title, top["metric"]),
                                  plot_dir(results_db.parent) / hypothesis / f"{key}.learning_curve.png", title))
    return meta


def partition_conditions(results_db, hypothesis: str, profile: Profile, keys: list[str]) -> dict[str, list]:
    """The conditions each dataset.task runs: those its auxiliary families (MI rows) support."""
    families = query(results_db, "SELECT DISTINCT dataset || '.' || task AS key, family FROM mutual_information") \
        if results_db.exists() else pd.DataFrame(columns=["key", "family"])
    out = {}
    for key in keys:
        available = tuple(families.loc[families["key"] == key, "family"])
        out[key] = conditions(hypothesis, profile, available) if available else conditions(hypothesis, profile)
    return out


def completeness(results_db, hypothesis: str, profile: Profile, keys: list[str] | None = None) -> list[str]:
    """Partitions (`keys`, default all) or conditions of a hypothesis that lack at least 2 finished trials."""
    expected = sorted(keys) if keys is not None else [k for ks in TASK_KEYS.values() for k in ks]
    have = query(results_db, "SELECT dataset || '.' || task AS key, condition, count(*) AS n FROM trials "
                 "WHERE hypothesis = ? AND state IN ('complete', 'pruned') GROUP BY ALL", [hypothesis]) \
        if results_db.exists() else pd.DataFrame(columns=["key", "condition", "n"])
    problems = []
    for key, conds in partition_conditions(results_db, hypothesis, profile, expected).items():
        rows = have[have["key"] == key]
        if rows.empty:
            problems.append(f"{key}: not trained")
            continue
        for condition in conds:
            n = int(rows.loc[rows["condition"] == condition.name, "n"].sum())
            if n < 2:
                problems.append(f"{key} {condition.name}: {n} finished trials (the bootstrap needs 2)")
    return problems


def significance_table(results_db, hypothesis: str, profile: Profile, log) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bootstrap every comparison of the hypothesis on every trained partition; write both tables."""
    trials = query(results_db, "SELECT * FROM trials WHERE hypothesis = ?", [hypothesis])
    keys = sorted(set(trials["dataset"] + "." + trials["task"]))
    with_floor = set(trials.loc[trials["condition"] == FLOOR, "dataset"] + "." + trials.loc[trials["condition"] == FLOOR, "task"])
    pairs = {key: comparisons(hypothesis, conds, floor=key in with_floor)
             for key, conds in partition_conditions(results_db, hypothesis, profile, keys).items()}
    boot = profile.bootstrap
    table, f1 = hypothesis_tables(trials, hypothesis, pairs, boot.get("resamples", 1000), boot.get("seed", 0))
    replace_rows(results_db, "significance", {"hypothesis": hypothesis}, table, log)
    replace_rows(results_db, "class_f1", {"hypothesis": hypothesis}, f1, log)
    return table, f1


def check_metadata(problems: list[str]) -> dict:
    """Metadata of the `all_partitions_trained` check: what is missing, or none."""
    return {"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")}


def incomplete(hypothesis: str, problems: list[str]) -> dg.Failure:
    return dg.Failure(description=f"{hypothesis} significance needs every partition: " + "; ".join(problems[:5]))


def significance_metadata(results_db, hypothesis: str, profile: Profile, log) -> tuple[dict, pd.DataFrame]:
    """Write the bootstrap tables, then what the UI shows: counts, the paper's view, the forest plot.

    Also returns the view's rows (the job logs them).
    """
    table, _ = significance_table(results_db, hypothesis, profile, log)
    view = TABLE_VIEWS[hypothesis]
    shown = query(results_db, f"SELECT * FROM {view}")
    title = f"{hypothesis.upper()}: challenger - baseline"
    return {
        "significant": dg.MetadataValue.int(int(table["significant"].sum())),
        "comparisons": dg.MetadataValue.int(len(table)),
        view: md_table(shown),
        **plot_metadata("forest_plot", forest_plot(table, title), plot_dir(results_db.parent) / hypothesis / "forest.png", title),
        "sql": dg.MetadataValue.md(f"`duckdb {results_db} -c 'SELECT * FROM {view}'`"),
    }, shown


def build_study_assets(hypothesis: str):
    """`<h>_trials` (per dataset.task) and `<h>_significance` (all partitions, blocking check)."""

    @dg.asset(
        name=f"{hypothesis}_trials",
        partitions_def=task_partitions,
        ins={"raw_sessions": dg.AssetIn(partition_mapping=dataset_to_tasks),
             "monah_narratives": dg.AssetIn(partition_mapping=dataset_to_tasks),
             "auxiliary_targets": dg.AssetIn(), "mutual_information": dg.AssetIn()},
        io_manager_key="table_io_manager",
        group_name="studies",
        kinds={"pytorch", "optuna", "duckdb"},
        op_tags=TRAINING_STEP_TAGS,
        description=f"Random search over every {hypothesis.upper()} condition on one dataset.task; rows in results.duckdb",
    )
    def trials_asset(context: dg.AssetExecutionContext, platform: PlatformResource, study: StudyResource,
                     raw_sessions, monah_narratives, auxiliary_targets, mutual_information) -> pd.DataFrame:
        key = context.partition_key
        trials, part = train_partition(platform, study, hypothesis, key, context.log.info)
        context.add_output_metadata(trials_metadata(trials, platform.settings().home / "results.duckdb", hypothesis,
                                                    key, part))
        return trials

    check_name = "all_partitions_trained"

    @dg.asset(
        name=f"{hypothesis}_significance",
        deps=[trials_asset],
        group_name="studies",
        kinds={"duckdb"},
        check_specs=[dg.AssetCheckSpec(check_name, asset=f"{hypothesis}_significance", blocking=True,
                                       description="every dataset.task and condition has >= 2 finished trials")],
        description=f"Bootstrap significance of every {hypothesis.upper()} challenger against its baseline",
    )
    def significance_asset(context: dg.AssetExecutionContext, platform: PlatformResource, study: StudyResource):
        results_db = platform.settings().home / "results.duckdb"
        profile = study.load()
        problems = completeness(results_db, hypothesis, profile)
        yield dg.AssetCheckResult(check_name=check_name, passed=not problems, metadata=check_metadata(problems))
        if problems:
            raise incomplete(hypothesis, problems)
        metadata, _ = significance_metadata(results_db, hypothesis, profile, context.log.info)
        yield dg.MaterializeResult(metadata=metadata)

    return trials_asset, significance_asset
