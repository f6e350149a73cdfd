"""The study jobs and assets end to end on a tiny corpus with a tiny profile (real training)."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score

from hanrock_assets.assets.auxiliary import auxiliary_targets
from hanrock_assets.assets.corpus import raw_sessions
from hanrock_assets.assets.narratives import monah_narratives
from hanrock_assets.assets.studies import build_study_assets
from hanrock_assets.jobs import h1_study
from hanrock_assets.resources import resources
from hanrock_core.base.results import query

from .conftest import TINY_SCALE
from .helpers import run_cli
from .test_search import tiny_profile


def _settings(tmp_path):
    path = tmp_path / "hanrock.yaml"
    path.write_text(f"home: {tmp_path / 'home'}\nsynthetic: {{scale: {TINY_SCALE}, seed: 3}}\n")
    return path


def test_h1_study_runs_every_partition_and_prints_table1(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HANROCK_HOME")
    instance = dg.DagsterInstance.ephemeral()
    defs = dg.Definitions(jobs=[h1_study], resources=resources(str(_settings(tmp_path)), str(tiny_profile(tmp_path))))
    result = defs.resolve_job_def("h1_study").execute_in_process(instance=instance)
    assert result.success
    db = tmp_path / "home" / "results.duckdb"
    table = query(db, "SELECT * FROM table1_h1")
    assert list(table["Aux. Target"]) == ["None (Baseline)", "ap", "aphf", "Floor: TF-IDF (not in paper)"]
    assert table.drop(columns="Aux. Target").notna().all().all()  # 8 tasks x (3 conditions and the floor)
    # 2 challengers against the baseline, and all 3 conditions against the floor, on each of 8 partitions
    # ... by A.4 and by the seeds test, and all 5 by the search test (the challengers slot by slot, the
    # conditions' every slot against the floor)
    n = query(db, "SELECT count(*) AS n FROM significance WHERE hypothesis = 'h1'")["n"].item()
    assert n == 8 * ((2 + 3) * 3)
    assert query(db, "SELECT count(*) AS n FROM mutual_information")["n"].item() == 8 * 16
    assert len(instance.get_materialized_partitions(dg.AssetKey("h1_trials"))) == 8
    assert instance.get_latest_materialization_event(dg.AssetKey("h1_significance")) is not None
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("h1_significance"), "all_partitions_trained")]
    )
    assert list(check.values())[0].status.value == "SUCCEEDED"
    plots = tmp_path / "home" / "reports" / "plots"  # every plot of the UI is a file too
    assert (plots / "h1" / "forest.png").read_bytes()[:4] == b"\x89PNG"
    assert len(list((plots / "h1").glob("*.learning_curves.png"))) == 8 and len(list((plots / "mi").glob("*.png"))) == 8
    meta = instance.get_latest_materialization_event(dg.AssetKey("h1_significance")).asset_materialization.metadata
    assert meta["forest plot"].value.startswith("![H1") and (
        meta["forest plot file"].value == "$HANROCK_HOME/reports/plots/h1/forest.png"
    )
    # what a researcher came for is shown without a click: Dagster folds Markdown from 1,000 characters,
    # tables never
    assert (
        meta["summary"].value.startswith("**H1: 16 comparisons over 8 dataset.tasks")
        and len(meta["summary"].value) < 1000
    )
    paper_table = meta["table1_h1"].value.records
    assert [r.data["Aux. Target"] for r in paper_table] == list(table["Aux. Target"])
    verdicts = [r.data for r in meta["answer"].value.records]  # the first table: one line a comparison
    assert len(verdicts) == 8 * 5 and list(meta)[:2] == ["answer", "forest plot"]
    # against the floor and between the challengers: by slots (this profile trains no seed replicates)
    assert all(" slots" in v["verdict"] for v in verdicts if v["comparison"].endswith("vs floor"))
    assert all(v["verdict"].split()[0] in ("better", "worse", "equivalent", "undecided") for v in verdicts)
    assert all(" slots" in v["verdict"] for v in verdicts if v["comparison"].endswith(("vs none", "none vs ap")))
    health = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("h1_significance"), "study_health")]
    )
    evaluation = list(health.values())[0].evaluation
    rows = evaluation.metadata["health"].value.records  # every dataset.task x condition, one row each
    assert len(rows) == 8 * 3 and len({r.data["dataset.task"] for r in rows}) == 8
    trials_meta = instance.get_latest_materialization_event(dg.AssetKey("h1_trials")).asset_materialization.metadata
    assert {r.data["condition"] for r in trials_meta["best_trials"].value.records} == {"none", "ap", "aphf", "floor"}
    # the page's affinity ranking is the view's (sql/views.sql owns it), computed before the rows reach the file
    part = instance.get_latest_materialization_event(dg.AssetKey("h1_trials")).asset_materialization.partition
    dataset, task = part.split(".")
    shown = sorted(
        (r.data["condition"], r.data["aux_task"], int(r.data["affinity_rank"]), round(float(r.data["affinity"]), 4))
        for r in trials_meta["auxiliary_affinity"].value.records
    )
    sql = "SELECT * FROM auxiliary_affinity WHERE hypothesis = 'h1' AND dataset = ? AND task = ?"
    view = query(db, sql, [dataset, task])
    assert len(shown) > 0
    assert shown == sorted(
        (r.condition, r.aux_task, int(r.affinity_rank), round(float(r.affinity), 4)) for r in view.itertuples()
    )
    rows = query(db, "SELECT count(*) AS n FROM trials")["n"].item()
    kept = _kept_models_reproduce_the_stored_predictions(tmp_path, db, instance, capsys)
    before = {p: p.read_bytes() for folder in kept for p in sorted(folder.iterdir())}
    # running the whole job again trains nothing new and duplicates nothing; the kept models stay as they were
    assert defs.resolve_job_def("h1_study").execute_in_process(instance=instance).success
    assert query(db, "SELECT count(*) AS n FROM trials")["n"].item() == rows
    assert {p: p.read_bytes() for folder in kept for p in sorted(folder.iterdir())} == before


def _kept_models_reproduce_the_stored_predictions(tmp_path, db, instance, capsys):
    """The Done-when of the model assets: `hanrock predict` on the selected iemocap.emotion model gives
    exactly the stored test predictions and test metric; every condition of every partition kept one model."""
    home = tmp_path / "home"
    assert len(instance.get_materialized_partitions(dg.AssetKey("h1_models"))) == 8
    weights = sorted((home / "models" / "h1").glob("*/*/weights.pt"))
    assert len(weights) == 8 * 3
    assert not list((home / "studies" / "h1").glob("*.states/*.pt")), "states of unselected trials must be gone"
    meta = instance.get_latest_materialization_event(dg.AssetKey("h1_models")).asset_materialization.metadata
    assert meta["missing"].value == "none" and meta["disk_bytes"].value > 0
    selected = query(
        db,
        "SELECT condition, trial, test_value FROM trials WHERE dataset = 'iemocap' AND task = 'emotion' "
        "AND condition <> 'floor' AND state <> 'failed' QUALIFY row_number() OVER "
        "(PARTITION BY condition ORDER BY -dev_value, trial) = 1",
    )
    root = next((home / "synthetic").glob("iemocap-*"))
    for row in selected.itertuples():
        out = tmp_path / f"{row.condition}.parquet"
        code, printed, err = run_cli(
            capsys, "predict", f"h1/iemocap.emotion/{row.condition}", root, "--corpus", "iemocap", "--out", out
        )
        assert code == 0, err
        assert f"h1 iemocap.emotion {row.condition} trial {row.trial}" in printed
        predicted = pd.read_parquet(out)
        stored = query(
            db,
            "SELECT utterance_id, truth, prediction FROM predictions WHERE dataset = 'iemocap' AND "
            "task = 'emotion' AND condition = ? AND trial = ?",
            [row.condition, row.trial],
        )
        mine = predicted.set_index("utterance_id").loc[stored["utterance_id"]]
        assert len(stored) > 0 and list(mine["prediction"]) == list(stored["prediction"])
        assert list(mine["truth"]) == list(stored["truth"])
        probabilities = predicted.filter(like="probability_")
        assert probabilities.shape[1] == 4 and np.allclose(probabilities.sum(axis=1), 1.0)
        test = predicted[(predicted["split"] == "test") & predicted["truth"].notna()]
        assert balanced_accuracy_score(test["truth"], test["prediction"]) == pytest.approx(row.test_value, abs=1e-12)
    return [w.parent for w in weights]


def test_significance_is_blocked_while_partitions_are_missing(tmp_path, monkeypatch):
    monkeypatch.delenv("HANROCK_HOME")
    trials, _, significance = build_study_assets("h1")
    res = resources(str(_settings(tmp_path)), str(tiny_profile(tmp_path)))
    upstream = [raw_sessions, monah_narratives, auxiliary_targets, trials]
    with pytest.raises(
        dg.Failure,
        match="h1 significance needs every partition: iemocap.activation: not trained; "
        "iemocap.dominance: not trained; iemocap.emotion",
    ):
        dg.materialize([*upstream, significance], selection=[significance], resources=res)


def test_a_run_can_cover_only_the_datasets_it_names(tmp_path, monkeypatch):
    monkeypatch.delenv("HANROCK_HOME")
    instance = dg.DagsterInstance.ephemeral()
    defs = dg.Definitions(jobs=[h1_study], resources=resources(str(_settings(tmp_path)), str(tiny_profile(tmp_path))))
    job = defs.resolve_job_def("h1_study")
    result = job.execute_in_process(
        instance=instance, run_config={"ops": {"each_dataset": {"config": {"datasets": ["semaine"]}}}}
    )
    assert result.success  # the completeness check covers the run's own partitions
    trained = instance.get_materialized_partitions(dg.AssetKey("h1_trials"))
    assert trained == {"semaine.activation", "semaine.intensity", "semaine.power", "semaine.valence"}
    db = tmp_path / "home" / "results.duckdb"
    assert set(query(db, "SELECT DISTINCT dataset FROM significance")["dataset"]) == {"semaine"}
    with pytest.raises(dg.Failure, match=r"run config names datasets \['friends'\] that are not configured"):
        job.execute_in_process(
            instance=instance, run_config={"ops": {"each_dataset": {"config": {"datasets": ["friends"]}}}}
        )


def test_h1_on_a_text_only_dataset_trains_with_its_label_and_lexicon_families_and_says_so(
    tiny_iemocap, tmp_path, monkeypatch, capsys
):
    """Bring-your-own data without facial or vocal features: historical and future labels only."""
    from hanrock_core.reading.corpora import read_iemocap

    monkeypatch.delenv("HANROCK_HOME")
    table = read_iemocap(tiny_iemocap)
    data = tmp_path / "mine"
    data.mkdir()
    for part in ("train", "dev", "test"):
        rows = table[table["split"] == part]
        rows[["dialogue", "turn_index", "speaker", "text", "label_emotion"]].to_csv(data / f"{part}.csv", index=False)
    spec = tmp_path / "mine.yaml"
    spec.write_text(
        "name: mine\nfiles: {train: train.csv, dev: dev.csv, test: test.csv}\n"
        "columns: {text: text, speaker: speaker, dialogue: dialogue, order: turn_index}\n"
        "speaker_disjoint: false\nlabels:\n  emotion: {column: label_emotion, type: class, metric: weighted_f1}\n"
    )
    vectors = tmp_path / "vectors.txt"  # 8-d like the tiny profile's embedding; two common words of the corpus
    vectors.write_text("said " + " ".join(["0.5"] * 8) + "\nwoman " + " ".join(["-0.5"] * 8) + "\n")
    settings = tmp_path / "hanrock.yaml"
    settings.write_text(
        f"home: {tmp_path / 'home'}\ndatasets:\n  mine: {{spec: {spec}, root: {data}}}\n"
        f"embeddings: {{path: {vectors}, format: glove}}\n"
    )
    instance = dg.DagsterInstance.ephemeral()
    defs = dg.Definitions(jobs=[h1_study], resources=resources(str(settings), str(tiny_profile(tmp_path))))
    result = defs.resolve_job_def("h1_study").execute_in_process(
        instance=instance, run_config={"ops": {"each_dataset": {"config": {"datasets": ["mine"]}}}}
    )
    assert result.success
    logs = " ".join(e.user_message for e in instance.all_logs(result.run_id))
    assert (
        "no data for auxiliary families ['actions', 'prosody'] in this dataset: training goes on with "
        "['lexicon', 'lexicon_next', 'historical', 'future']" in logs  # a text-only corpus: its text's lexicons
    )
    db = tmp_path / "home" / "results.duckdb"
    conditions = query(
        db, "SELECT condition, count(*) AS n FROM trials WHERE dataset = 'mine' GROUP BY ALL ORDER BY ALL"
    )
    # no `ap`: it would repeat the baseline; the text lexicons alone (lex) and the labels alone (hf) beside
    # both (aphf); the bag-of-words floor is one fit
    assert conditions.to_dict("list") == {"condition": ["aphf", "floor", "hf", "lex", "none"], "n": [2, 1, 2, 2, 2]}
    assert set(query(db, "SELECT DISTINCT metric FROM trials WHERE dataset = 'mine'")["metric"]) == {"weighted_f1"}
    meta = instance.get_latest_materialization_event(dg.AssetKey("h1_trials")).asset_materialization.metadata
    assert meta["selection_metric"].value == "weighted_f1"
    assert "of train tokens and" in meta["word_vectors"].value and str(vectors) in meta["word_vectors"].value
    assert "word vectors: " in logs
    families = query(db, "SELECT DISTINCT family FROM mutual_information WHERE dataset = 'mine' ORDER BY ALL")
    assert list(families["family"]) == ["future", "historical", "lexicon", "lexicon_next"]
    long = query(db, "SELECT condition FROM results_long WHERE dataset = 'mine' ORDER BY ALL")
    assert list(long["condition"]) == ["aphf", "floor", "hf", "lex", "none"]
    pairs = query(
        db, "SELECT baseline, challenger FROM significance WHERE dataset = 'mine' AND method = 'paper' ORDER BY ALL"
    )
    assert pairs.values.tolist() == [
        *(["floor", c] for c in ("aphf", "hf", "lex", "none")),
        *(["none", c] for c in ("aphf", "hf", "lex")),
    ]
    table1 = query(db, "SELECT * FROM table1_h1")  # the own dataset is a column of the paper's view
    assert table1["mine emotion weighted F1"].notna().all()
    # new conversations in the spec's format, without labels, through the kept model (its word vectors inside)
    new = tmp_path / "new.csv"
    table[table["split"] == "test"][["dialogue", "turn_index", "speaker", "text"]].to_csv(new, index=False)
    monkeypatch.setenv("HANROCK_CONFIG", str(settings))
    out = tmp_path / "new.predictions.parquet"
    code, printed, err = run_cli(
        capsys, "predict", "h1/mine.emotion/aphf", new, "--spec", spec, "--out", out, "--attention"
    )
    assert code == 0, err
    predicted = pd.read_parquet(out)
    assert len(predicted) == (table["split"] == "test").sum() and predicted["truth"].isna().all()
    assert "labelled talkturns" not in printed  # nothing to score without labels
    trial = int(printed.split("mine.emotion aphf trial ")[1].split()[0])
    stored = query(
        db,
        "SELECT utterance_id, prediction FROM predictions WHERE dataset = 'mine' AND condition = 'aphf' AND trial = ?",
        [trial],
    )
    assert predicted.set_index("utterance_id").loc[stored["utterance_id"], "prediction"].tolist() == list(
        stored["prediction"]
    )
    first = predicted.iloc[-1]
    assert len(first["word_attention"]) == len(first["words"]) > 0 and len(first["talkturn_attention"]) == len(
        first["window"]
    )
    assert set(first["word_attention"]) <= {"none", "low", "medium", "high"}


def test_a_study_job_on_another_profile_trains_new_studies_and_says_what_changed(tmp_path, monkeypatch):
    """The metadata of <h>_trials names what differs; on_changed_inputs: refuse fails the step instead."""
    from hanrock_assets.jobs import h3_study

    monkeypatch.delenv("HANROCK_HOME")
    instance = dg.DagsterInstance.ephemeral()
    first, second = tiny_profile(tmp_path, trials=2), tmp_path / "other.yaml"
    second.write_text(first.read_text().replace("name: tiny", "name: other").replace("epochs: 2", "epochs: 3"))
    defs = dg.Definitions(jobs=[h3_study], resources=resources(str(_settings(tmp_path)), str(first)))
    job = defs.resolve_job_def("h3_study")
    only = {"ops": {"each_dataset": {"config": {"datasets": ["semaine"]}}}}
    assert job.execute_in_process(instance=instance, run_config=only).success
    key = dg.AssetKey("h3_trials")
    before = instance.get_latest_materialization_event(key).asset_materialization.metadata
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(key, "study_health")]
    )  # the non-blocking health check ran after training
    evaluation = list(check.values())[0].event.dagster_event.event_specific_data
    assert "health" in evaluation.metadata and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "superseded" not in before and set(before["inputs"].value) == {
        "profile",
        "narratives",
        "targets",
        "data",
        "code",
    }
    other = {**only, "resources": {"study": {"config": {"profile": str(second)}}}}
    assert job.execute_in_process(instance=instance, run_config=other).success
    after = instance.get_latest_materialization_event(key).asset_materialization.metadata
    assert "profile" in after["superseded"].value and after["study_identity"].value != before["study_identity"].value
    db = tmp_path / "home" / "results.duckdb"
    assert set(query(db, "SELECT DISTINCT identity FROM trials")["identity"]) != {before["study_identity"].value}
    assert len(query(db, "SELECT * FROM superseded_studies")) == 4  # one per semaine task
    refuse = {**only, "resources": {"study": {"config": {"profile": str(first), "on_changed_inputs": "refuse"}}}}
    result = job.execute_in_process(instance=instance, run_config=refuse, raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failures and "trained on other inputs (profile differ)" in str(failures[0].event_specific_data.error)


def test_a_run_covers_the_tasks_its_config_names():
    from hanrock_assets.steps import selected_tasks

    keys = ["iemocap.activation", "iemocap.emotion", "semaine.power"]
    assert selected_tasks(keys, []) == keys
    assert selected_tasks(keys, ["iemocap.emotion"]) == ["iemocap.emotion"]
    with pytest.raises(dg.Failure, match=r"names tasks \['iemocap.mood'\]"):
        selected_tasks(keys, ["iemocap.mood"])
