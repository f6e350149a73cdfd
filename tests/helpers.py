"""Helpers for tests: run the CLI and check that bad input fails cleanly."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from hanrock_core.cli import main

REPO = Path(__file__).resolve().parents[1]


def services_missing() -> str | None:
    """The Debian package that deploy/local-services.sh needs and this machine lacks, or None."""
    if not shutil.which("redis-server"):
        return "redis-server"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "postgresql"
    return None


def quick_profile(path: Path, name: str, **settings) -> Path:
    """The packaged quick profile under another name with some settings changed, written to `path`.

    Read and written as YAML, so a change to the packaged values cannot slip past a test (a text
    replacement of `trials_per_condition: 3` silently did nothing once quick moved to 6 slots).
    """
    profile = yaml.safe_load((REPO / "hanrock_core" / "study" / "profiles" / "quick.yaml").read_text())
    unknown = set(settings) - set(profile)
    assert not unknown, f"quick.yaml has no {sorted(unknown)}"
    profile.update(name=name, **settings)
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


def run_dagster_job(job: str, cwd: Path, env: dict, config: Path | None = None, timeout: int = 600):
    """`dagster job execute -m hanrock_assets -j JOB [-c CONFIG]` as a user types it; it must succeed."""
    import subprocess
    import sys

    dagster = str(Path(sys.executable).parent / "dagster")
    argv = [dagster, "job", "execute", "-m", "hanrock_assets", "-j", job, *(["-c", str(config)] if config else [])]
    run = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def services_environment(text: str) -> dict[str, str]:
    """The variables of a services.env that deploy/local-services.sh wrote (`export NAME=VALUE` lines)."""
    return dict(line[len("export ") :].split("=", 1) for line in text.splitlines() if line.startswith("export "))


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse refuses a bad option value with exit code 2
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_load_fails(capsys, tmp_path: Path, corpus: str, root: Path, *expected: str, extra: tuple = ()) -> str:
    """`hanrock load` exits non-zero, names what is expected in its message, writes no output."""
    out_file = tmp_path / "out.parquet"
    code, _, err = run_cli(capsys, "load", corpus, root, "--out", out_file, *extra)
    assert code == 2, err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    assert not out_file.exists()
    assert not list(tmp_path.glob(".out.parquet*")), "a temporary file was left behind"
    return err


def write_trials(db, key: dict, rows, identity: str = "0123456789ab") -> None:
    """Trial rows of one partition as a study writes them: under an identity that is then its current one."""
    import pandas as pd

    from hanrock_core.base.results import replace_rows

    key = {**key, "identity": identity}
    replace_rows(db, "all_trials", key, rows.assign(identity=identity))
    replace_rows(db, "study_identities", key, pd.DataFrame([{**key, "recorded_at": pd.Timestamp.now()}]))
