"""One place reads the deployment: every HANROCK_* variable is declared and read in base/deployment.py,
documented in the README's one table, and a malformed value stops with its name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hanrock_core.base.deployment import NAMES, read_deployment, variables_table
from hanrock_core.base.errors import InputError

REPO = Path(__file__).resolve().parents[1]
OWNER = REPO / "hanrock_core" / "base" / "deployment.py"


def _reads(source: str) -> list[tuple[int, str]]:
    """Lines that read a HANROCK_* variable: `x.get("HANROCK_..")`, `getenv(..)`, `x["HANROCK_.."]`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            args = node.args[:1] if name in ("get", "getenv", "pop", "setdefault") else []
        elif isinstance(node, ast.Subscript):
            args = [node.slice]
        else:
            continue
        found += [
            (node.lineno, a.value)
            for a in args
            if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("HANROCK_")
        ]
    return found


def test_no_module_but_the_deployment_reads_a_hanrock_variable():
    offenders = []
    for package in ("hanrock_core", "hanrock_assets"):
        for path in (REPO / package).rglob("*.py"):
            if path != OWNER:
                offenders += [f"{path.relative_to(REPO)}:{line} {name}" for line, name in _reads(path.read_text())]
    assert not offenders, f"read HANROCK_* through hanrock_core.base.deployment instead: {offenders}"
    # the finder finds what it must, so the check above can fail
    assert _reads('a = os.environ.get("HANROCK_HOME")\nb = env["HANROCK_CORES"]\nc = os.getenv("HANROCK_X")') == [
        (1, "HANROCK_HOME"),
        (2, "HANROCK_CORES"),
        (3, "HANROCK_X"),
    ]
    assert {name for _, name in _reads(OWNER.read_text())} <= set(NAMES)


def test_every_variable_is_in_the_readmes_one_table():
    assert variables_table() in (REPO / "README.md").read_text(encoding="utf-8")


def test_the_deployment_is_read_with_its_defaults_and_its_mistakes_named():
    default = read_deployment({})
    assert (default.executor, default.cores, default.trial_workers, default.compile, default.staged_results) == (
        "multiprocess",
        0,
        None,
        True,
        False,
    )
    given = read_deployment(
        {"HANROCK_MAX_CONCURRENT": "3", "HANROCK_STAGED_RESULTS": "yes", "HANROCK_CELERY_BROKER": "redis://b:1/0"}
    )
    assert given.cores == 3 and given.staged_results and given.celery_backend == "redis://b:1/0"
    assert read_deployment({"HANROCK_CORES": "2", "HANROCK_MAX_CONCURRENT": "3"}).cores == 2
    for env, message in (
        ({"HANROCK_CORES": "many"}, "HANROCK_CORES must be a whole number of at least 0, not 'many'"),
        ({"HANROCK_TRIAL_WORKERS": "0"}, "HANROCK_TRIAL_WORKERS must be a whole number of at least 1"),
        ({"HANROCK_COMPILE": "maybe"}, "HANROCK_COMPILE must be 1 or 0, not 'maybe'"),
        ({"HANROCK_EXECUTOR": "spark"}, "HANROCK_EXECUTOR='spark' is not one of"),
    ):
        with pytest.raises(InputError, match=message):
            read_deployment(env)
