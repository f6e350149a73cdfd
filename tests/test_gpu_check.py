"""The GPU check cannot rot: its dry run (CPU, tiny) runs every part here, as CI does."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

from hanrock_core.checks import gpu_check

from .conftest import REPO

# what a bare GPU machine has (the list); everything else the core imports must travel as a wheel
ON_A_BARE_GPU_MACHINE = {"torch", "numpy", "pandas", "sklearn", "scipy", "pyarrow", "matplotlib", "yaml", "pytest"}


def test_the_dry_run_runs_every_part_and_writes_its_figures(tmp_path):
    out = tmp_path / "check"
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_SYSTEM_PYTHON": "1"}
    done = subprocess.run(
        [str(REPO / "scripts" / "gpu_check.sh"), "--device", "cpu", "--tiny", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads((out / "gpu_check.json").read_text())
    assert figures["ok"] and set(figures["parts"]) == {"equivalence", "bench", "paper_shape", "small_study"}
    assert figures["parts"]["equivalence"]["figures"]["passed"] > 0
    assert {"fused", "torch"} == set(json.loads((out / "bench.json").read_text())["backends"])
    shape = figures["parts"]["paper_shape"]["figures"]
    assert len(shape["epochs"]) == 8 and all(row["epoch_s"] > 0 for row in shape["epochs"])  # 2 x 2 x 2
    assert shape["projection"]["trials"] == 8 * 11 * 30
    assert figures["parts"]["small_study"]["figures"]["differing_predictions"] == 0
    assert "projected paper_study on one device" in (out / "report.txt").read_text()


def test_asking_for_cuda_without_a_gpu_says_what_to_do(capsys):
    if gpu_check.torch.cuda.is_available():
        return
    assert gpu_check.main(["--device", "cuda", "--out", "unused"]) == 2
    assert "--device cpu --tiny" in capsys.readouterr().err


def test_the_projection_states_its_assumptions():
    import pandas as pd

    from hanrock_core.study.profiles import load_profile

    epochs = pd.DataFrame(
        [
            {"gru": g, "content_size": c, "aux_encoders": a, "epoch_s": 10.0 if a else 5.0}
            for g in ("fused", "torch") for c in (1, 30) for a in (True, False)
        ]
    )  # fmt: skip
    projection = gpu_check.project_paper_study(epochs, load_profile("paper"))
    per_trial = 177.5 * (10 * 10.0 + 5.0) / 11  # epochs: half stop at 5, half run 350
    assert projection["by_gru"]["torch"]["trial_s"] == round(per_trial, 1)
    assert projection["by_gru"]["torch"]["study_hours"] == round(2640 * per_trial / 3600, 1)
    assert "upper estimate" in projection["text"] and "IEMOCAP" in projection["text"]


def _third_party_imports() -> set[str]:
    names = set()
    for path in (REPO / "hanrock_core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "hanrock_core"}


def test_every_package_the_core_needs_is_on_the_gpu_machine_or_in_the_wheel_list():
    pinned = {
        line.split("==")[0].strip().lower()
        for line in (REPO / "gpu" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    missing = {n for n in _third_party_imports() - ON_A_BARE_GPU_MACHINE if n.lower() not in pinned}
    assert not missing, f"add to gpu/requirements.txt (pinned): {sorted(missing)}"
    assert all("==" in line for line in (REPO / "gpu" / "requirements.txt").read_text().splitlines()
               if line.strip() and not line.startswith("#"))  # fmt: skip
