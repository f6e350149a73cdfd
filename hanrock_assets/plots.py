"""Small plots embedded in materialisation metadata (Markdown images, no files needed)."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def png_markdown(fig, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def learning_curve_md(curve: pd.DataFrame, title: str, metric: str) -> str:
    """Dev and test metric per epoch of one trial."""
    fig, ax = plt.subplots(figsize=(4.5, 2.8))
    ax.plot(curve["epoch"], curve["dev_value"], marker="o", label="dev")
    ax.plot(curve["epoch"], curve["test_value"], marker="s", label="test")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=9)
    ax.legend()
    return png_markdown(fig, f"learning curve {title}")
