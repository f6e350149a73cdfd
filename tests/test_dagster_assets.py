"""Dagster wiring: definitions load, raw_sessions materialises per dataset, the main job runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from hanrock_assets import defs
from hanrock_assets.assets.auxiliary import auxiliary_targets
from hanrock_assets.assets.corpus import raw_sessions
from hanrock_assets.assets.narratives import monah_narratives
from hanrock_assets.instance import ensure_dagster_home
from hanrock_assets.jobs import main_job
from hanrock_assets.resources import resources

from .conftest import EMORYNLP, REPO, TINY_SCALE

DAGSTER = Path(sys.executable).parent / "dagster"


def _settings_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "hanrock.yaml"
    path.write_text(f"home: {tmp_path / 'home'}\nsynthetic: {{scale: {TINY_SCALE}, seed: 1}}\n{extra}")
    return path


def test_core_never_imports_dagster():
    code = (
        "import pkgutil, importlib, sys, hanrock_core\n"
        "for m in pkgutil.walk_packages(hanrock_core.__path__, 'hanrock_core.'): importlib.import_module(m.name)\n"
        "assert not [m for m in sys.modules if m.startswith('dagster')], 'dagster imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_every_job_resolves():
    dg.Definitions.validate_loadable(defs)  # what the UI's code server checks: unique op names, etc.
    defs.get_repository_def().load_all_definitions()
    for job in defs.jobs:
        assert defs.resolve_job_def(job.name) is not None
    assert set(defs.resolve_assets_def("raw_sessions").partitions_def.get_partition_keys()) >= {"iemocap", "semaine"}


def test_raw_sessions_materialises_one_dataset(tmp_path, monkeypatch):
    monkeypatch.delenv("HANROCK_HOME")
    store = tmp_path / "home" / "assets"
    result = dg.materialize([raw_sessions], partition_key="semaine", resources=resources(str(_settings_file(tmp_path))))
    assert result.success
    table = pd.read_parquet(store / "raw_sessions" / "semaine.parquet")
    assert set(table["split"]) == {"train", "dev", "test"} and table["dataset"].eq("semaine").all()
    metadata = result.asset_materializations_for_node("raw_sessions")[0].metadata
    assert metadata["dagster/row_count"].value == len(table)
    assert "label_valence" in metadata["labels"].value
    # the synthetic corpus was generated once into the data directory, and is reused
    generated = list((tmp_path / "home" / "synthetic").iterdir())
    assert [p.name for p in generated] == [f"semaine-scale{TINY_SCALE:g}-seed1"]


def test_a_broken_dataset_root_fails_the_step_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("HANROCK_HOME")
    (tmp_path / "empty").mkdir()
    settings = _settings_file(tmp_path, f"datasets:\n  iemocap: {{root: {tmp_path / 'empty'}}}\n")
    store = tmp_path / "home" / "assets"
    with pytest.raises(Exception, match="no EmoEvaluation files found"):
        dg.materialize([raw_sessions], partition_key="iemocap", resources=resources(str(settings)))
    assert not store.exists() or not list(store.rglob("*.parquet"))


def test_narratives_and_auxiliary_targets_of_one_partition(tmp_path, monkeypatch):
    monkeypatch.delenv("HANROCK_HOME")
    res = resources(str(_settings_file(tmp_path)))
    assert dg.materialize([raw_sessions, monah_narratives], partition_key="iemocap", resources=res).success
    result = dg.materialize(
        [raw_sessions, auxiliary_targets],
        partition_key="iemocap.activation",
        resources=res,
        selection=[auxiliary_targets],
        run_config={"ops": {"auxiliary_targets": {"config": {"families": ["actions", "prosody", "historical"]}}}},
    )
    assert result.success
    store = tmp_path / "home" / "assets"
    narratives = pd.read_parquet(store / "monah_narratives" / "iemocap.parquet")
    assert narratives["model_input"].str.contains("said").all()
    targets = pd.read_parquet(store / "auxiliary_targets" / "iemocap.activation.parquet")
    assert "activation_t-1" in targets and "activation_t+1" not in targets
    mi = pd.read_parquet(store / "mutual_information" / "iemocap.activation.parquet")
    assert len(mi) == 12 and mi["mi"].is_monotonic_decreasing
    shown = {m.asset_key.path[-1]: m.metadata for m in result.asset_materializations_for_node("auxiliary_targets")}
    assert "target_distributions" in shown["auxiliary_targets"]
    ranking = shown["mutual_information"]["mi_ranking"].value  # a table the UI shows inline, beside its chart
    assert "au05_r" in [record.data["task"] for record in ranking.records] and "mi_plot" in shown["mutual_information"]


def test_main_job_records_every_partition(tmp_path, monkeypatch):
    monkeypatch.delenv("HANROCK_HOME")
    instance = dg.DagsterInstance.ephemeral()
    job = dg.Definitions(jobs=[main_job], resources=resources(str(_settings_file(tmp_path)))).resolve_job_def(
        "main_job"
    )
    assert job.execute_in_process(instance=instance).success
    assert instance.get_materialized_partitions(dg.AssetKey("raw_sessions")) == {"iemocap", "semaine"}
    tasks = instance.get_materialized_partitions(dg.AssetKey("auxiliary_targets"))
    assert tasks == {
        "iemocap.emotion",
        "iemocap.valence",
        "iemocap.activation",
        "iemocap.dominance",
        "semaine.activation",
        "semaine.intensity",
        "semaine.power",
        "semaine.valence",
    }


def _env(tmp_path: Path, settings: Path) -> dict[str, str]:
    """The environment of a fresh shell: our settings file, and a persistent Dagster instance of the test's own."""
    env = {k: v for k, v in os.environ.items() if k not in ("HANROCK_HOME", "DAGSTER_HOME")}
    env.update(
        HANROCK_CONFIG=str(settings), PYTHONPATH=str(REPO), DAGSTER_HOME=str(ensure_dagster_home(tmp_path / "dagster"))
    )
    return env


def test_the_job_and_the_assets_run_one_body(tmp_path, monkeypatch):
    """main_job's ops and the assets call the same step functions: identical tables and the same metadata."""
    monkeypatch.delenv("HANROCK_HOME")
    settings = str(_settings_file(tmp_path))
    by_asset = resources(settings, home=str(tmp_path / "assets-home"))
    first = dg.materialize([raw_sessions, monah_narratives], partition_key="iemocap", resources=by_asset)
    assert dg.materialize(
        [raw_sessions, auxiliary_targets],
        partition_key="iemocap.emotion",
        resources=by_asset,
        selection=[auxiliary_targets],
    ).success
    instance = dg.DagsterInstance.ephemeral()
    job = dg.Definitions(
        jobs=[main_job], resources=resources(settings, home=str(tmp_path / "job-home"))
    ).resolve_job_def("main_job")
    assert job.execute_in_process(
        instance=instance, run_config={"ops": {"each_dataset": {"config": {"datasets": ["iemocap"]}}}}
    ).success
    for asset, key in [
        ("raw_sessions", "iemocap"),
        ("monah_narratives", "iemocap"),
        ("auxiliary_targets", "iemocap.emotion"),
        ("mutual_information", "iemocap.emotion"),
    ]:
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "assets-home" / "assets" / asset / f"{key}.parquet"),
            pd.read_parquet(tmp_path / "job-home" / "assets" / asset / f"{key}.parquet"),
        )
    for asset in ("raw_sessions", "monah_narratives"):
        by_job = instance.get_latest_materialization_event(dg.AssetKey(asset)).asset_materialization.metadata
        mine = first.asset_materializations_for_node(asset)[0].metadata
        assert set(by_job) - {"path"} == set(mine) - {"path"}
        assert by_job["dagster/row_count"] == mine["dagster/row_count"]


@pytest.mark.skipif(not EMORYNLP.exists(), reason="../shared/data/emorynlp is not beside the checkout")
def test_declared_datasets_become_partitions(tmp_path):
    spec = REPO / "examples" / "emorynlp" / "dataset.yaml"
    settings = _settings_file(tmp_path, f"datasets:\n  emorynlp: {{spec: {spec}, root: {EMORYNLP}}}\n")
    code = (
        "import json, hanrock_assets as h\n"
        "print(json.dumps(h.defs.resolve_assets_def('raw_sessions').partitions_def.get_partition_keys()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(tmp_path, settings), capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["emorynlp", "iemocap", "semaine"]


def test_an_unknown_family_is_refused_before_the_run_starts(tmp_path):
    settings = _settings_file(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("ops:\n  prepare_task:\n    config:\n      families: [actions, gestures]\n")
    run = subprocess.run(
        [str(DAGSTER), "job", "execute", "-m", "hanrock_assets", "-j", "main_job", "-c", str(bad)],
        cwd=tmp_path,
        env=_env(tmp_path, settings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode != 0
    assert "not in enum type Family got gestures" in run.stdout + run.stderr
    assert not (tmp_path / "home").exists()  # nothing was read, generated or written


def test_a_broken_spec_fails_only_its_own_dataset(tmp_path):
    """One broken dataset spec in hanrock.yaml: the code location loads, the other datasets run, and the
    broken dataset's step fails with the spec's file and line; an unknown split key lists the valid ones."""
    spec = tmp_path / "mine.yaml"
    spec.write_text(
        "name: mine\nfiles: {train: a.csv, dev: b.csv, test: c.csv}\n"
        "columns: {text: t, speaker: s, dialogue: d, order: o}\nlabels: Emotion\n"
    )
    settings = _settings_file(tmp_path, f"datasets:\n  mine: {{spec: {spec}, root: {tmp_path}}}\n")
    env = _env(tmp_path, settings)

    def materialize(partition: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                str(DAGSTER),
                "asset",
                "materialize",
                "-m",
                "hanrock_assets",
                "--select",
                "raw_sessions",
                "--partition",
                partition,
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    ok = materialize("iemocap")
    assert ok.returncode == 0, ok.stdout[-2000:] + ok.stderr[-2000:]
    assert (tmp_path / "home" / "assets" / "raw_sessions" / "iemocap.parquet").exists()
    broken = materialize("mine")
    assert broken.returncode != 0
    assert f"{spec}:4" in broken.stdout + broken.stderr and "labels must be a mapping" in broken.stdout + broken.stderr
    assert not (tmp_path / "home" / "assets" / "raw_sessions" / "mine.parquet").exists()
    unknown = materialize("iemocapp")
    assert unknown.returncode != 0
    assert "valid keys: iemocap, mine, semaine" in unknown.stdout + unknown.stderr


def test_reading_notices_reach_the_asset_metadata(tmp_path, monkeypatch):
    monkeypatch.delenv("HANROCK_HOME")
    res = resources(str(_settings_file(tmp_path)))
    assert dg.materialize([raw_sessions], partition_key="semaine", resources=res).success
    corpus = next((tmp_path / "home" / "synthetic").iterdir())
    (corpus / "Sessions" / "2" / "session.xml").write_text(
        (corpus / "Sessions" / "2" / "session.xml").read_text().replace('character="', 'character="end" was="')
    )
    for trace in (corpus / "Sessions" / "3").glob("R*TU*DI.txt"):
        trace.unlink()
    result = dg.materialize([raw_sessions], partition_key="semaine", resources=res)
    metadata = result.asset_materializations_for_node("raw_sessions")[0].metadata
    assert metadata["reading_warnings"].value == 2  # the unlabelled talkturns, and a Table 5 recording now absent
    assert "skipped 1 session(s)" in metadata["reading_notices"].value
    assert "lists 1 session(s) that the corpus does not have" in metadata["reading_notices"].value
    assert "no intensity trace of the user" in metadata["reading_notices"].value
