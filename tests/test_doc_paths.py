"""Docs that cannot rot: every repository path and every `module.name` that README.md, docs/*.md or a
docstring of the two packages cites must exist."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("hanrock_core", "hanrock_assets")
TOP_FOLDERS = ("hanrock_core", "hanrock_assets", "tests", "docs", "sql", "examples", "deploy", "scripts", "gpu", ".ci")
# a path written from the repository's root: a top folder, then path characters
PATH = re.compile(r"(?<![\w./$-])((?:" + "|".join(re.escape(f) for f in TOP_FOLDERS) + r")/[\w./-]*[\w/])")
# `something.py`, cited alone
FILE = re.compile(r"`([\w/]+\.py)`")
# `module.name` inside backticks (the code spans of Markdown, the quoted names of docstrings)
DOTTED = re.compile(r"`([a-z_][\w]*(?:\.[A-Za-z_]\w*)+)(?:\([^`]*\))?`")
FILE_SUFFIXES = {"duckdb", "parquet", "yaml", "yml", "py", "json", "txt", "csv", "md", "html", "png", "pt", "sql"}
FILE_SUFFIXES |= {"sh", "toml", "env", "log", "gz", "lock", "svg", "xml", "db", "sqlite", "cfg"}
# a partition key (`iemocap.emotion`) reads like a module's name
PARTITION_KEY = re.compile(r"^(iemocap|semaine|emorynlp)\.[a-z_]+$")
PLACEHOLDER = "<{*$"  # a path that goes on with a placeholder (`splits_<corpus>.yaml`) is a pattern


def _ignored(path: str) -> bool:
    """A path git ignores is made by a command (`gpu/wheels/`), not kept in the tree."""
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0


def _doc_texts() -> list[tuple[str, str]]:
    """(where, text) of the README, every docs page and every docstring of the two packages."""
    texts = [("README.md", (REPO / "README.md").read_text(encoding="utf-8"))]
    texts += [(str(p.relative_to(REPO)), p.read_text(encoding="utf-8")) for p in sorted((REPO / "docs").glob("*.md"))]
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in [tree, *ast.walk(tree)]:
                if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                    doc = ast.get_docstring(node, clean=False)
                    if doc:
                        texts.append((f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 1)}", doc))
    return texts


@cache
def _modules() -> dict[str, list[str]]:
    """Each module's last name (and its dotted tails) -> the full module names of the two packages."""
    names: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            full = ".".join(parts)
            for start in range(len(parts)):
                names.setdefault(".".join(parts[start:]), []).append(full)
    return names


def _has(module_name: str, attribute: str) -> bool:
    """Whether `attribute` (maybe dotted) is a name of the module, of a class in it, or a submodule."""
    try:
        obj = importlib.import_module(module_name)
    except ImportError:
        return False
    for part in attribute.split("."):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        if inspect.ismodule(obj) and any(
            part in getattr(c, "__annotations__", {}) or hasattr(c, part)
            for c in vars(obj).values()
            if inspect.isclass(c) and c.__module__ == obj.__name__
        ):
            return True  # an attribute of an object of one of its classes (`settings.home`)
        if part in getattr(obj, "__annotations__", {}):
            return True
        try:
            obj = importlib.import_module(f"{obj.__name__}.{part}")
        except (ImportError, AttributeError):
            return False
    return True


def missing_citations(texts: list[tuple[str, str]]) -> list[str]:
    """Every cited path that does not exist and every `module.name` whose name the module lacks."""
    missing = []
    modules = _modules()
    for where, text in texts:
        for match in PATH.finditer(text):
            path = match.group(1)
            if text[match.end() : match.end() + 1] in tuple(PLACEHOLDER):
                continue
            if not (REPO / path.rstrip("/.")).exists() and not _ignored(path):
                missing.append(f"{where}: {path}")
        for name in FILE.findall(text):
            if not any(REPO.glob(f"**/{name}")) or (
                "/" in name and not (REPO / name).exists() and not any(REPO.glob(f"*/**/{name}"))
            ):
                missing.append(f"{where}: {name}")
        for dotted in DOTTED.findall(text):
            head, _, rest = dotted.partition(".")
            if dotted.rsplit(".", 1)[-1] in FILE_SUFFIXES or PARTITION_KEY.match(dotted):
                continue  # a file name (`results.duckdb`), a partition key
            if head in PACKAGES:
                parts = dotted.split(".")
                found = any(
                    _has(".".join(parts[:k]), ".".join(parts[k:])) if k < len(parts) else _has(dotted, "__name__")
                    for k in range(len(parts), 0, -1)
                )
            else:
                candidates = [
                    (m, dotted[len(k) + 1 :]) for k, ms in modules.items() for m in ms if dotted.startswith(k + ".")
                ]
                if not candidates:
                    continue  # not one of our modules (`torch.load`, `trial.suggest_float`)
                found = any(_has(m, attr) for m, attr in candidates)
            if not found:
                missing.append(f"{where}: {dotted}")
    return missing


def test_every_cited_path_and_name_exists():
    missing = missing_citations(_doc_texts())
    assert not missing, "cited but not found (rename the citation or the file):\n" + "\n".join(missing)


def test_a_renamed_file_or_name_is_found():
    texts = [
        ("a.md", "see `hanrock_core/study/search.py` and hanrock_core/study/nosuch.py"),
        ("b.md", "headings cite `trained_model.py`; `search_space.PROFILE_LIMITS` exists"),
        ("c.md", "`search_space.NO_SUCH_LIMITS`, `study.load_profile`, `profiles.load_profile` and `torch.load`"),
    ]
    assert missing_citations(texts) == [
        "a.md: hanrock_core/study/nosuch.py",
        "b.md: trained_model.py",
        "c.md: search_space.NO_SUCH_LIMITS",
        "c.md: study.load_profile",
    ]


def layout_listing(readme: str) -> dict[str, set[str]]:
    """Folder -> the module files README's Layout names under it (a folder line, then its continuation lines)."""
    block = readme[readme.index("    hanrock_core/       the library") : readme.index("\n    sql/ ")]
    listing: dict[str, set[str]] = {}
    parents: list[tuple[int, str]] = []
    folder = None
    for line in block.splitlines():
        head = re.match(r"^( +)([\w]+/)", line)
        if head:
            indent = len(head.group(1))
            parents = [(i, f) for i, f in parents if i < indent]
            folder = "".join(f for _, f in parents) + head.group(2)
            parents.append((indent, head.group(2)))
            listing.setdefault(folder, set())
        file_line = re.match(r"^( +)(\w+\.py) ", line)
        if file_line and len(file_line.group(1)) < 24:  # a file beside folders (`cli.py`): their parent's
            parents = [(i, f) for i, f in parents if i < len(file_line.group(1))]
            folder = "".join(f for _, f in parents)
        names = re.findall(r"\b(\w+\.py)\b", line)
        if folder:
            listing[folder] |= {n for n in names}
    return listing


def layout_mismatches(readme: str) -> list[str]:
    """Modules the Layout leaves out, and names it lists that its folder lacks."""
    wrong = []
    for folder, names in layout_listing(readme).items():
        if not (REPO / folder).is_dir():
            wrong.append(f"{folder}: no such folder")
            continue
        present = {p.name for p in (REPO / folder).glob("*.py") if p.name != "__init__.py"}
        if folder == "hanrock_core/":
            present.discard("__main__.py")
        wrong += [f"{folder}{n}: not in README's Layout" for n in sorted(present - names)]
        wrong += [f"{folder}{n}: in README's Layout, not in the tree" for n in sorted(names - present)]
    return wrong


def test_the_readme_layout_lists_every_module():
    wrong = layout_mismatches((REPO / "README.md").read_text(encoding="utf-8"))
    assert not wrong, "README's Layout and the tree differ:\n" + "\n".join(wrong)


def test_a_module_missing_from_the_layout_is_found():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert layout_mismatches(readme.replace("seed_ensemble.py, ", "")) == [
        "hanrock_core/study/seed_ensemble.py: not in README's Layout"
    ]
    assert layout_mismatches(readme.replace("floor.py,", "floor.py, bogus.py,")) == [
        "hanrock_core/learning/bogus.py: in README's Layout, not in the tree"
    ]
