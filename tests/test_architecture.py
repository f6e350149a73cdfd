"""What the import-linter contracts (pyproject.toml, `make lint`) cannot say: no import cycle inside a stage,
assets and jobs without logic of their own, only `Home` builds paths under the data directory; and that the
contracts themselves hold and can fail."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("hanrock_core", "hanrock_assets")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> tuple[set[str], set[str]]:
    """The platform modules a file imports (anywhere in it, lazy imports included), and the top-level packages."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found, tops = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            tops.add(target.split(".")[0])
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found, tops


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    files = [p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")]
    modules = {_module_name(p) for p in files}
    graph, tops = {}, {}
    for path in files:
        graph[_module_name(path)], tops[_module_name(path)] = _imports(path, modules)
    return graph, tops


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (package `__init__` re-exports excepted), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):  # a package importing its own submodule is how packages are built
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_there_is_no_import_cycle():
    graph, _ = _graph()
    assert "hanrock_assets.steps" in graph and graph["hanrock_assets.jobs"] >= {"hanrock_assets.steps"}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_one():  # the test above must be able to fail
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def _lint_imports(package_root: Path) -> subprocess.CompletedProcess:
    """import-linter's verdict on the packages found under `package_root`, with the repository's contracts."""
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    return subprocess.run(
        [str(lint), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=package_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layer_contracts_hold_and_fail_when_a_stage_imports_a_later_one(tmp_path):
    assert _lint_imports(REPO).returncode == 0, _lint_imports(REPO).stdout[-3000:]
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    io = tmp_path / "hanrock_core" / "base" / "io.py"
    io.write_text(io.read_text(encoding="utf-8") + "\nfrom hanrock_core.study import search  # noqa\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode != 0
    assert "hanrock_core.base.io -> hanrock_core.study.search" in broken.stdout, broken.stdout[-3000:]


def test_assets_and_jobs_hold_no_sql_and_write_no_files():
    """Steps live in steps.py (one body for the asset and the op); asset modules and jobs.py only wire them."""
    wiring = [REPO / "hanrock_assets" / "jobs.py", *(REPO / "hanrock_assets" / "assets").glob("*.py")]
    for path in wiring:
        text = path.read_text(encoding="utf-8")
        for word in (
            "SELECT ",
            "write_table",
            "write_parquet",
            "AssetMaterialization",
            "AssetCheckEvaluation",
            "from hanrock_core.base.results",
            "read_table",
        ):
            assert word not in text, f"{path.name} has {word!r}: move it to steps.py"


# the names of the data directory's layout (hanrock_core/base/home.py): only the Home object joins them
HOME_NAMES = {
    "results.duckdb",
    "staged_results",
    "studies",
    "models",
    "assets",
    "reports",
    "plots",
    "attention",
    "synthetic",
    ".slots",
    "waiting",
    # the files of a kept model folder (Home's ModelFiles)
    "weights.pt",
    "vocabulary.txt",
    "model.json",
    "SHA256SUMS",
}
# a file name built from parts and ending so (`x / f"{condition}-{slot}.parquet"`) is a trial, replicate or
# staged file: Home (TrialFiles) names those too
BUILT_SUFFIXES = (".parquet", ".pt", ".json")


def _built_name(part) -> bool:
    """An f-string file name ending in one of BUILT_SUFFIXES."""
    if not isinstance(part, ast.JoinedStr) or not part.values:
        return False
    last = part.values[-1]
    return isinstance(last, ast.Constant) and str(last.value).endswith(BUILT_SUFFIXES)


def _home_paths_built(source: str) -> list[int]:
    """Lines that join one of the home's layout names onto a path (`x / "models"`, `x.joinpath("studies")`)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        parts = []
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            parts = [node.right]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "joinpath":
            parts = list(node.args)
        if any((isinstance(p, ast.Constant) and p.value in HOME_NAMES) or _built_name(p) for p in parts):
            lines.append(node.lineno)
    return lines


def test_only_the_home_object_builds_paths_under_the_data_directory():
    offenders = []
    for pkg in PACKAGES:
        for path in (REPO / pkg).rglob("*.py"):
            if path.name == "home.py":
                continue
            offenders += [
                f"{path.relative_to(REPO)}:{line}" for line in _home_paths_built(path.read_text(encoding="utf-8"))
            ]
    assert not offenders, f"paths under $HANROCK_HOME built outside hanrock_core/base/home.py: {offenders}"


def test_the_home_path_finder_finds_one():  # the test above must be able to fail
    assert sorted(
        _home_paths_built(
            'p = settings.home / "models" / h\nq = root.joinpath("studies")\nr = a / "other"\n'
            's = folder / f"{condition}-{slot}.parquet"\nt = folder / "weights.pt"'
        )
    ) == [1, 2, 4, 5]


def private_imports(sources: dict[str, str]) -> list[str]:
    """`from a.module import _name` of a platform module, and `module._name` read off an imported platform
    module: a private name is its module's own, so one module's rewrite never breaks another."""
    found = []
    for where, text in sources.items():
        tree = ast.parse(text)
        aliases = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(PACKAGES)):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{where}: imports {alias.name} from {node.module}")
                    aliases.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                aliases |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith(PACKAGES)}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
            ):
                found.append(f"{where}: reads {node.value.id}.{node.attr}")
    return found


def test_no_private_name_is_imported_across_modules():
    sources = {
        str(p.relative_to(REPO)): p.read_text(encoding="utf-8") for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")
    }
    found = private_imports(sources)
    assert not found, "private names used outside their module:\n" + "\n".join(found)


def test_the_private_import_finder_finds_one():  # the test above must be able to fail
    assert private_imports({"a.py": "from hanrock_core.learning.training import _Run\n"}) == [
        "a.py: imports _Run from hanrock_core.learning.training"
    ]
    assert private_imports({"b.py": "from hanrock_core.learning import training\ntraining._strip({}, 'x')\n"}) == [
        "b.py: reads training._strip"
    ]
