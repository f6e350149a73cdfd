"""The UI end to end, on one persistent Dagster instance: a `dagster job execute` run from the command
line is what the UI then shows, under its job and re-executable there; `dagster dev` on a free port,
GraphQL, rows in DuckDB."""

from __future__ import annotations

import os
import time

import requests
import yaml
from dagster import AssetKey, DagsterInstance
from dagster_graphql import DagsterGraphQLClient
from matplotlib.image import imread

from hanrock_assets.code_location import LOCATION_NAME
from hanrock_assets.instance import ensure_dagster_home
from hanrock_assets.pages import asset_page, partition_page, tour
from hanrock_assets.ui_tour import HEIGHT, WAIT_MS, WIDTH, free_port, shoot, webserver
from hanrock_core.base.results import query
from hanrock_core.checks.browser import dump_dom

from .conftest import REPO, TINY_SCALE, browser_or_skip
from .helpers import run_dagster_job

JOB_RUNS = (
    '{ pipelineOrError(params: {pipelineName: "main_job", repositoryName: "__repository__", '
    f'repositoryLocationName: "{LOCATION_NAME}"}}) {{ ... on Pipeline {{ runs {{ runId status '
    "repositoryOrigin { repositoryLocationName repositoryName } } } } }"
)
REEXECUTE = (
    "mutation ($parent: String!) { launchRunReexecution(reexecutionParams: {parentRunId: $parent, "
    "strategy: ALL_STEPS}) { __typename ... on LaunchRunSuccess { run { runId } } "
    "... on PythonError { message } ... on InvalidSubsetError { message } } }"
)
MATERIALISED = (
    '{ assetOrError(assetKey: {path: ["raw_sessions"]}) { ... on Asset { assetMaterializations '
    "{ partition runId } } } }"
)
DESCRIPTION = '{ assetNodeOrError(assetKey: {path: ["mutual_information"]}) { ... on AssetNode { description } } }'


def _graphql(base: str, text: str, **variables) -> dict:
    reply = requests.post(f"{base}/graphql", json={"query": text, "variables": variables}, timeout=60).json()
    assert "errors" not in reply, reply
    return reply["data"]


def test_the_ui_shows_a_command_line_run_and_launches_its_own(tmp_path):
    settings = tmp_path / "hanrock.yaml"
    settings.write_text(f"home: {tmp_path / 'home'}\nsynthetic: {{scale: {TINY_SCALE}, seed: 5}}\n")
    env = {k: v for k, v in os.environ.items() if k != "HANROCK_HOME"}
    env.update(
        HANROCK_CONFIG=str(settings), DAGSTER_HOME=str(ensure_dagster_home(tmp_path / "dagster")), PYTHONPATH=str(REPO)
    )
    run_dagster_job("main_job", tmp_path, env, timeout=300)
    assert not list(tmp_path.glob(".tmp_dagster_home_*"))  # the persistent instance, not a temporary one
    store = tmp_path / "home" / "assets"
    assert sorted(p.name for p in (store / "raw_sessions").glob("*.parquet")) == ["iemocap.parquet", "semaine.parquet"]
    assert len(list((store / "auxiliary_targets").glob("*.parquet"))) == 8
    port = free_port()
    with webserver(port, tmp_path / "dagster-dev.log", env) as base:
        shown = _graphql(base, MATERIALISED)["assetOrError"]["assetMaterializations"]
        assert {m["partition"] for m in shown} == {"iemocap", "semaine"}  # the command line's run, seen by the UI
        # plots show on the asset's page without a click: a short Markdown image the webserver serves
        with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            event = instance.get_latest_materialization_event(AssetKey("mutual_information"))
        shown = event.asset_materialization.metadata["mi_plot"].value
        assert len(shown) < 1000 and "](/logs/hanrock-plots/mi/" in shown, shown[:200]
        image = requests.get(f"{base}{shown.split('](')[1].rstrip(')')}", timeout=30)
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
        # each partition is one link away: the description names every partition's page
        description = _graphql(base, DESCRIPTION)["assetNodeOrError"]["description"]
        assert description.count("](/assets/mutual_information?view=partitions&partition=") == 8, description
        # the command line's run is filed under its job, with the UI's own code location (no "loaded
        # from a different code location" warning), and re-executes from there
        runs = _graphql(base, JOB_RUNS)["pipelineOrError"]["runs"]
        assert [r["status"] for r in runs] == ["SUCCESS"], runs
        assert runs[0]["repositoryOrigin"] == {
            "repositoryLocationName": LOCATION_NAME,
            "repositoryName": "__repository__",
        }
        launched = _graphql(base, REEXECUTE, parent=runs[0]["runId"])["launchRunReexecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        client = DagsterGraphQLClient("localhost", port_number=port)
        status, deadline = None, time.time() + 300
        while time.time() < deadline:
            status = client.get_run_status(run_id).value
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(2)
        assert status == "SUCCESS", (tmp_path / "dagster-dev.log").read_text()[-3000:]
        assert len(_graphql(base, JOB_RUNS)["pipelineOrError"]["runs"]) == 2  # the re-execution, under the job too
        results = tmp_path / "home" / "results.duckdb"
        assert query(results, "SELECT count(DISTINCT dataset || task) AS n FROM mutual_information")["n"].item() == 8
        assert (tmp_path / "home" / "assets" / "raw_sessions" / "iemocap.parquet").exists()
        _partition_links_open_their_partition(base)
        [(address, png, seconds)] = shoot(base, tour("h1", "iemocap.emotion")[:1], tmp_path / "shots")
        assert imread(png).shape[:2] == (HEIGHT, WIDTH) and imread(png).std() > 0.01, address  # drawn, not blank
    # Dagster's usual way, `dagster dev -m hanrock_assets`, files both runs under the job too
    with webserver(free_port(), tmp_path / "dagster-dev-m.log", env, module=True) as base:
        assert len(_graphql(base, JOB_RUNS)["pipelineOrError"]["runs"]) == 2


def _partition_links_open_their_partition(base: str) -> None:
    """In a real browser, the description's links are links, and one opens the Partitions tab on its
    partition's materialisation (not on "No partition selected")."""
    browser_or_skip()
    overview = dump_dom(base + asset_page("raw_sessions"), wait_ms=WAIT_MS)
    assert 'href="/assets/raw_sessions?view=partitions&amp;partition=semaine"' in overview, overview[-2000:]
    partition = dump_dom(base + partition_page("raw_sessions", "semaine"), wait_ms=WAIT_MS)
    assert "No partition selected" not in partition and "Materialized" in partition, partition[-2000:]
    assert "semaine" in partition and "talkturns" in partition  # the partition's own metadata


def test_the_instance_files_command_line_runs_under_the_workspace_location(tmp_path):
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["location_name"] == LOCATION_NAME
    home = ensure_dagster_home(tmp_path / "dagster")
    shipped = yaml.safe_load((home / "dagster.yaml").read_text())
    assert shipped["nux"] == {"enabled": False}  # no community dialog over the first page
    assert shipped["instance_class"]["class"] == "HanrockInstance"
    first_line = (home / "dagster.yaml").read_text().splitlines()[0]
    (home / "dagster.yaml").write_text(first_line + "\ntelemetry:\n  enabled: false\n")  # an earlier version's
    assert "instance_class" in ensure_dagster_home(home).joinpath("dagster.yaml").read_text()  # brought up to date
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")  # a user's own file
    assert ensure_dagster_home(home).joinpath("dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"
