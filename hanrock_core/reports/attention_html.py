"""The attention report as one self-contained HTML page (Figure 5 layout; no network, printable).

Per example: a row per talkturn of the content context, newest (i) first; for each model a
square with the talkturn's attention level (N / L / M / H) and the words, larger and darker
with higher word attention.  Levels are told by letters and type size, not colour alone, so
the page reads the same printed in black and white.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from hanrock_core.base.io import atomic_path
from hanrock_core.learning.task_data import TaskData
from hanrock_core.reports.attention_report import (
    LEVELS,
    ReportExample,
    ReportModels,
    build_examples,
    mean_talkturn_attention,
    pick_samples,
    read_attention,
    trained_pair,
)

TITLES = {"mtl": "MTL (HAN-ROCK)", "stl": "STL (HAN-ROCK, auxiliary weights 0)"}

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em auto; max-width: 72em; color: #111; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.1em; margin: 1.6em 0 0.3em; }
p.meta, p.legend { color: #333; font-size: 0.9em; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #bbb; padding: 0.25em 0.4em; vertical-align: top; text-align: left; }
th { font-size: 0.85em; border-bottom: 2px solid #333; }
td.offset { font-style: italic; width: 2.5em; white-space: nowrap; }
td.level { width: 1.6em; }
span.box { display: inline-block; width: 1.4em; height: 1.4em; line-height: 1.4em; text-align: center;
           border: 1.5px solid #222; font-weight: bold; font-size: 0.85em; }
span.box.none { color: #777; border-color: #999; } span.box.low { background: #eee; }
span.box.medium { background: #ccc; } span.box.high { background: #222; color: #fff; }
td.words { line-height: 1.8; }
span.w-none { color: #888; font-size: 0.9em; } span.w-low { color: #333; font-size: 1em; }
span.w-medium { color: #000; font-size: 1.15em; font-weight: 600; }
span.w-high { color: #000; font-size: 1.35em; font-weight: 800; text-decoration: underline; }
td.speaker { color: #555; font-size: 0.8em; white-space: nowrap; }
.ok { font-weight: bold; } .wrong { font-weight: bold; text-decoration: line-through; }
section.example { break-inside: avoid; page-break-inside: avoid; }
table.summary { width: auto; } table.summary td, table.summary th { padding: 0.2em 1em; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  span.box, span.box.high { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _words(words: list[str], levels: list[str]) -> str:
    return " ".join(f'<span class="w-{lvl}">{html.escape(w)}</span>' for w, lvl in zip(words, levels))


def _box(level: str) -> str:
    return f'<span class="box {level}" title="{level} attention">{level[0].upper()}</span>'


def _prediction(label: str, truth: str, classification: bool) -> str:
    if not classification:
        return html.escape(label)
    return f'<span class="{"ok" if label == truth else "wrong"}">{html.escape(label)}</span>'


def _example(number: int, example: ReportExample, models: list[str], classification: bool) -> str:
    predicted = ", ".join(
        f"{m.upper()} predicted {_prediction(example.predictions[m], example.truth, classification)}" for m in models
    )
    header = "".join(f'<th colspan="2">{TITLES[m]}</th>' for m in models)
    rows = []
    for turn in example.turns:
        cells = "".join(
            f'<td class="level">{_box(turn["models"][m]["level"])}</td>'
            f'<td class="words">{_words(turn["words"], turn["models"][m]["word_levels"])}</td>'
            for m in models
        )
        rows.append(
            f'<tr><td class="offset">{turn["offset"]}</td>'
            f'<td class="speaker">{html.escape(turn["speaker"])}</td>{cells}</tr>'
        )
    return (
        f'<section class="example" data-utterance="{html.escape(example.utterance_id)}">'
        f"<h2>Example {number}: {html.escape(example.utterance_id)} (dialogue {html.escape(example.dialogue)})</h2>"
        f'<p class="meta">True label <b>{html.escape(example.truth)}</b>; {predicted}.</p>'
        f"<table><thead><tr><th>talkturn</th><th>speaker</th>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "</section>"
    )


def _metrics(test: dict[str, dict[str, float]]) -> str:
    names = [k for k in ("balanced_accuracy", "accuracy", "macro_f1", "mae") if any(k in t for t in test.values())]
    head = "".join(f"<th>{n}</th>" for n in names)
    body = "".join(
        f"<tr><td>{m.upper()}</td>" + "".join(f"<td>{t.get(n, float('nan')):.3f}</td>" for n in names) + "</tr>"
        for m, t in test.items()
    )
    return f'<table class="summary"><thead><tr><th>model (test)</th>{head}</tr></thead><tbody>{body}</tbody></table>'


def render_report(
    title: str,
    examples: list[ReportExample],
    test_metrics: dict[str, dict[str, float]],
    positions: pd.DataFrame,
    details: dict[str, str],
    classification: bool,
) -> str:
    """The whole page; `details` are shown as a list of facts about the models (source, config, weights)."""
    models = list(test_metrics)
    facts = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in details.items())
    legend = " ".join(f"{_box(level)} {level}" for level in LEVELS)
    position_rows = "".join(
        f"<tr><td>{idx}</td>" + "".join(f"<td>{v:.3f}</td>" for v in row) + "</tr>" for idx, row in positions.iterrows()
    )
    position_head = "".join(f"<th>{c}</th>" for c in positions.columns)
    body = "".join(_example(i + 1, ex, models, classification) for i, ex in enumerate(examples))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="meta">Generated {stamp} by hanrock. {len(examples)} test talkturns; each row is a talkturn of the
content context, i the talkturn whose label is predicted.</p>
<ul class="meta">{facts}</ul>
<p class="legend">Talkturn attention: {legend}. Levels come from z-scores of the combined weights within
the window (talkturns) or within the talkturn (words): z &lt; 0 none, 0&ndash;1 low, 1&ndash;2 medium, &ge; 2 high.
Word and talkturn attention of the primary and auxiliary encoders are averaged with the fusion's task attention
as weights (appendix A.5). Words: <span class="w-none">none</span> <span class="w-low">low</span>
<span class="w-medium">medium</span> <span class="w-high">high</span>.</p>
{_metrics(test_metrics)}
<h2>Mean talkturn attention by position</h2>
<table class="summary"><thead><tr><th>talkturn</th>{position_head}</tr></thead><tbody>{position_rows}</tbody></table>
{body}
</body></html>
"""


@dataclass
class ReportSummary:
    path: Path
    examples: int
    test_metrics: dict[str, dict[str, float]]
    positions: pd.DataFrame  # mean talkturn attention by position, per model
    agreement: float  # share of examples where MTL and STL predict the same label
    source: str


def write_attention_report(
    data: TaskData,
    models: ReportModels,
    table: pd.DataFrame,
    model_inputs: pd.Series,
    title: str,
    model_dir: Path,
    out: Path,
    samples: int = 8,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> ReportSummary:
    """Train (or reuse) the MTL / STL pair, read their attention on sampled test talkturns, write the page.

    `table` is the talkturn table (speaker and dialogue per utterance id); `model_inputs` the
    normalised narratives by utterance id.  The page is written atomically.
    """
    pair = trained_pair(data, models, model_dir, log)
    rows = pick_samples(data, samples, seed, min_context=min(2, models.config.content_size))
    attention = read_attention(data, pair, rows, models.config.content_size)
    by_id = table.set_index("utterance_id")
    examples = build_examples(
        data, attention, model_inputs, by_id["speaker"], by_id["dialogue"], models.config.max_words
    )
    positions = mean_talkturn_attention(attention)
    test = {name: metrics for name, (_, metrics) in pair.items()}
    c = models.config
    top = np.argsort(-models.mtl_weights[1:])[:4]
    details = {
        "models from": models.source,
        "hyper-parameters": f"P = {c.primary_units}, A = {c.aux_units}, content size {c.content_size}, "
        f"learning rate {c.learning_rate:.5f}, batch {c.batch_size}, dropout {c.dropout:.2f}, "
        f"{c.optimizer}, {c.epochs} epochs (best dev epoch kept), seed {c.seed}",
        "MTL loss weights": f"primary {models.mtl_weights[0]:.3f}; largest auxiliary: "
        + ", ".join(f"{data.aux_names[k]} {models.mtl_weights[1 + k]:.3f}" for k in top),
        "STL loss weights": "primary 1, every auxiliary task 0 (same architecture and seed)",
    }
    page = render_report(title, examples, test, positions, details, data.classification)
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    agreement = (
        float(np.mean([e.predictions["mtl"] == e.predictions["stl"] for e in examples])) if examples else float("nan")
    )
    log(f"attention report written to {out} ({len(examples)} examples)")
    return ReportSummary(out, len(examples), test, positions, agreement, models.source)


__all__ = ["ReportSummary", "render_report", "write_attention_report"]
