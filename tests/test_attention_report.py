"""Attention report (A.5, Figure 5): levels, the task-weighted combination, the page, a real browser."""

from __future__ import annotations

import re

import dagster as dg
import numpy as np
import pytest
import torch
from matplotlib.image import imread

from hanrock_assets.assets.auxiliary import auxiliary_targets
from hanrock_assets.assets.corpus import raw_sessions
from hanrock_assets.assets.narratives import monah_narratives
from hanrock_assets.assets.reports import attention_report
from hanrock_assets.resources import resources
from hanrock_core.base.errors import InputError
from hanrock_core.base.results import query
from hanrock_core.checks.browser import dump_dom, print_pdf, screenshot
from hanrock_core.learning.batching import distinct_talkturns
from hanrock_core.learning.train_config import TrainConfig
from hanrock_core.learning.training import make_model
from hanrock_core.preparation.narrative import narrative_table
from hanrock_core.reading.corpora import read_iemocap
from hanrock_core.reports.attention_html import write_attention_report
from hanrock_core.reports.attention_report import (
    ReportModels,
    attention_level,
    default_models,
    pick_samples,
    window_attention,
    zscore,
)
from hanrock_core.study.profiles import load_profile

from .conftest import browser_or_skip
from .test_dagster_studies import _settings
from .test_search import _partition, tiny_profile


def test_levels_follow_the_z_score_buckets_of_a5():
    assert [attention_level(z) for z in (-0.01, 0.0, 0.99, 1.0, 1.99, 2.0, 5.0)] == [
        "none",
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]
    assert zscore(np.array([0.2, 0.2, 0.2])).tolist() == [0.0, 0.0, 0.0]  # equal weights: all "low"
    z = zscore(np.array([0.1, 0.2, 0.7]))
    assert abs(z.mean()) < 1e-12 and abs(z.std() - 1) < 1e-12


def _tiny_models(part, architecture="han_rock") -> ReportModels:
    config = TrainConfig(
        architecture=architecture,
        primary_units=4,
        aux_units=2,
        embedding_dim=8,
        content_size=3,
        epochs=2,
        optimizer="adam",
        learning_rate=2**-6,
        batch_size=32,
        compile="off",
    )
    weights = np.r_[0.7, np.full(len(part.data.aux_names), 0.3 / len(part.data.aux_names))]
    return ReportModels(config, weights, "test")


@pytest.mark.parametrize("architecture", ["han_rock", "han"])
def test_combined_attention_is_the_task_weighted_average(tiny_iemocap, architecture):
    part = _partition(tiny_iemocap, "emotion")
    models = _tiny_models(part, architecture)
    torch.manual_seed(0)
    model = make_model(part.data, models.config).eval()
    windows = part.data.windows(models.config.content_size)
    rows = pick_samples(part.data, 5, seed=1)
    samples = window_attention(model, part.data, windows, rows)
    assert [s.row for s in samples] == rows.tolist()
    for s in samples:
        assert s.rows[-1] == s.row and len(s.rows) == len(s.talkturn) == len(s.words)  # current talkturn last
        assert abs(s.talkturn.sum() - 1) < 1e-5 and all(abs(w.sum() - 1) < 1e-5 for w in s.words)
    # recompute one sample by hand from the model's raw attention
    words, lengths, local, _ = distinct_talkturns(part.data, windows, rows[:1], "cpu")
    with torch.no_grad():
        att = model(words, lengths, local, return_attention=True).attention
    n = len(samples[0].rows)
    if architecture == "han_rock":
        task = att["task"][0]  # (N + 1,), primary last
        expected = task[-1] * att["talkturn"][0, :n] + (task[:-1, None] * att["aux_talkturn"][:, 0, :n]).sum(0)
        u = int(att["aligned_windows"][0, n - 1])
        k = int(lengths[u])
        expected_words = task[-1] * att["word"][u, :k] + (1 - task[-1]) * att["aux_word"][u, :k]
    else:
        assert "task" not in att
        expected = att["talkturn"][0, :n]
        u = int(att["aligned_windows"][0, n - 1])
        expected_words = att["word"][u, : int(lengths[u])]
    np.testing.assert_allclose(samples[0].talkturn, expected.numpy(), atol=1e-6)
    np.testing.assert_allclose(samples[0].words[-1], expected_words.numpy(), atol=1e-6)


def test_samples_are_labelled_test_talkturns_spread_over_classes(tiny_iemocap):
    part = _partition(tiny_iemocap, "emotion")
    rows = pick_samples(part.data, 8, seed=0)
    assert len(rows) == 8 and set(part.data.split[rows]) == {"test"}
    assert len(set(part.data.primary[rows].tolist())) == min(
        4, len(set(part.data.primary[part.data.labelled("test")].tolist()))
    )
    assert (rows == pick_samples(part.data, 8, seed=0)).all()


@pytest.fixture
def page_inputs(tiny_iemocap):
    """Task data, talkturn table and model inputs of the tiny iemocap.emotion partition."""
    table = read_iemocap(tiny_iemocap)
    return _partition(tiny_iemocap, "emotion"), table, narrative_table(table).set_index("utterance_id")["model_input"]


def test_report_page_is_self_contained_and_checkpoints_are_verified(page_inputs, tmp_path):
    part, table, inputs = page_inputs
    models = _tiny_models(part)
    out, model_dir = tmp_path / "report.html", tmp_path / "models"
    logs: list[str] = []

    def report():
        return write_attention_report(
            part.data, models, table, inputs, "Attention report: iemocap.emotion", model_dir, out,
            samples=4, seed=0, log=logs.append,
        )  # fmt: skip

    summary = report()
    page = out.read_text()
    assert summary.examples == 4 and page.count('<section class="example"') == 4
    assert not re.search(r"https?://|<script|<link|<img|@import|url\(", page), "the page must not fetch anything"
    assert "MTL (HAN-ROCK)" in page and "STL (HAN-ROCK, auxiliary weights 0)" in page
    assert re.search(r'class="box (none|low|medium|high)"', page) and re.search(
        r'class="w-(none|low|medium|high)"', page
    )
    assert page.count('<td class="offset">i</td>') == 4  # every example shows its current talkturn
    assert "True label <b>" in page and "MTL predicted" in page and "STL predicted" in page
    assert set(summary.test_metrics) == {"mtl", "stl"} and list(summary.positions.columns) == ["MTL", "STL"]
    assert any("training the STL model" in line for line in logs)
    # the same inputs again: both checkpoints are reused (read with weights_only), nothing retrained
    logs.clear()
    again = report()
    assert any("reusing" in line for line in logs) and not any("training" in line for line in logs)
    assert again.test_metrics == summary.test_metrics
    same_body = re.sub(r"Generated [^.]+\.", "", out.read_text()) == re.sub(r"Generated [^.]+\.", "", page)
    assert same_body, "the same checkpoints must give the same page"
    # a damaged checkpoint is reported with its path, never used
    checkpoint = model_dir / "stl.pt"
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0xFF
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"stl\.pt.*does not match the SHA-256"):
        write_attention_report(
            part.data, models, table, inputs, "x", model_dir, out, samples=4, seed=0, log=logs.append
        )


def test_attention_report_asset_reads_the_kept_h1_model(tmp_path, monkeypatch):
    monkeypatch.delenv("HANROCK_HOME")
    from hanrock_assets.assets.studies import build_study_assets

    trials, models, _ = build_study_assets("h1")
    res = resources(str(_settings(tmp_path)), str(tiny_profile(tmp_path)))
    assets = [raw_sessions, monah_narratives, auxiliary_targets, trials, models, attention_report]
    instance = dg.DagsterInstance.ephemeral()
    # raw sessions and narratives are per dataset, the rest per dataset.task
    dg.materialize([raw_sessions, monah_narratives], partition_key="iemocap", resources=res, instance=instance)
    result = dg.materialize(
        assets,
        partition_key="iemocap.emotion",
        resources=res,
        instance=instance,
        selection=[auxiliary_targets, trials, models, attention_report],
        run_config={"ops": {"attention_report": {"config": {"samples": 3}}}},
    )
    assert result.success
    meta = result.asset_materializations_for_node("attention_report")[0].metadata
    assert meta["examples"].value == 3
    # the MTL model is the kept model of the trial selected on dev, read back (not retrained): its test metric
    db = tmp_path / "home" / "results.duckdb"
    best = query(
        db,
        "SELECT * FROM trials WHERE condition = 'aphf' AND dataset = 'iemocap' AND task = 'emotion' "
        "ORDER BY -dev_value, trial LIMIT 1",
    ).iloc[0]
    assert meta["models_from"].value.startswith(f"kept model h1 iemocap.emotion aphf trial {int(best['trial'])} ")
    assert meta["mtl_test_balanced_accuracy"].value == pytest.approx(best["test_value"], abs=1e-12)
    logs = " ".join(e.user_message for e in instance.all_logs(result.run_id))
    assert "training the STL model" in logs and "training the MTL model" not in logs
    page = tmp_path / "home" / "reports" / "attention" / "iemocap.emotion.html"
    assert str(page) == meta["report"].value and page.exists()
    models_meta = result.asset_materializations_for_node("h1_models")[0].metadata
    assert models_meta["missing"].value == "none" and models_meta["disk_bytes"].value > 0


def test_report_renders_in_headless_chromium(page_inputs, tmp_path):
    """The page opens in a real browser: laid-out DOM, a non-blank screenshot and a printed PDF."""
    browser_or_skip()
    part, table, inputs = page_inputs
    out = tmp_path / "report.html"
    write_attention_report(
        part.data,
        _tiny_models(part),
        table,
        inputs,
        "Attention report",
        tmp_path / "m",
        out,
        samples=3,
        log=lambda m: None,
    )
    dom = dump_dom(out)
    assert dom.count('<section class="example"') == 3 and "Mean talkturn attention by position" in dom
    png = screenshot(out, tmp_path / "shot.png", 1000, 1200)

    pixels = imread(png)  # matplotlib reads PNG
    assert pixels.shape[:2] == (1200, 1000)
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"
    pdf = print_pdf(out, tmp_path / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000


def test_default_models_without_a_study(tiny_iemocap):
    part = _partition(tiny_iemocap, "emotion")
    models = default_models(part.data, part.mi, load_profile("quick"), seed=0)
    assert models.config.architecture == "han_rock" and models.config.aux_units >= 1
    assert abs(models.mtl_weights.sum() - 1) < 1e-9 and models.mtl_weights[0] == 0.75
    assert models.stl_weights.tolist() == [1.0] + [0.0] * (len(models.mtl_weights) - 1)
