"""YAML configuration files (settings, dataset specs, study profiles): strict decoding, key lines, typed values.

A value of the wrong type is refused with the file, the key's line, what was expected and what
was found -- `epochs: eight` or `speaker_disjoint: "false"` never reaches the code that uses it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hanrock_core.base.errors import InputError
from hanrock_core.base.input_files import read_text

# dataset and task names become partition keys `dataset.task` and column names `label_<task>`
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
NAME_HINT = "use letters, digits, '_' or '-' (a '.' would break the `dataset.task` partition keys)"
MAX_NAME = 64  # dataset and task names become folder and file names (with suffixes) under a 255-byte limit


@dataclass
class ConfigFile:
    """A parsed YAML mapping and the line of every key (dotted paths: `labels.emotion.type`)."""

    path: Path
    what: str
    data: dict
    lines: dict[str, int]

    def line(self, key: str) -> int | None:
        """The line of `key`, or of its nearest parent that has one."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0]
        return None

    def error(self, key: str, problem: str, hint: str | None = None) -> InputError:
        return InputError(problem, self.path, self.line(key), hint=hint)


def _key_lines(node: yaml.Node, prefix: str = "", out: dict | None = None) -> dict[str, int]:
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = f"{prefix}{k.value}"
            out[key] = k.start_mark.line + 1
            _key_lines(v, key + ".", out)
    return out


class DuplicateKey(yaml.YAMLError):
    """A key given twice in one mapping (YAML 1.2 forbids it; PyYAML would keep the last one silently)."""

    def __init__(self, key, first: int, again: int):
        super().__init__(f"key {key!r} is given twice (first on line {first})")
        self.problem, self.line = str(self), again


class _StrictLoader(yaml.SafeLoader):
    """The safe loader, refusing duplicate keys."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.setdefault(key, key_node.start_mark.line + 1)
        except TypeError:  # an unhashable key: the base constructor says so
            continue
        if first != key_node.start_mark.line + 1:
            raise DuplicateKey(key, first, key_node.start_mark.line + 1)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def read_config(path: str | Path, what: str) -> ConfigFile:
    """Read a YAML mapping (UTF-8, or UTF-16 with a byte-order mark); a syntax error or a key given twice
    names its line."""
    path = Path(path)
    text = read_text(path, what)
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
        node = yaml.compose(text)
    except DuplicateKey as exc:
        raise InputError(
            f"the {what}: {exc.problem}", path, exc.line, hint="keep one of them: which one is meant cannot be guessed"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"the {what} is not valid YAML: {problem}", path, mark.line + 1 if mark else None) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"the {what} must be a YAML mapping of keys to values", path, 1)
    return ConfigFile(path, what, data, _key_lines(node) if node is not None else {})


def refuse_unknown(cfg: ConfigFile, mapping: dict, known: Iterable[str], prefix: str = "") -> None:
    """Refuse keys of `mapping` that are not in `known` (a typo would otherwise be ignored)."""
    known = sorted(known)
    for key in mapping:
        if key not in known:
            raise cfg.error(f"{prefix}{key}", f"unknown key {prefix + str(key)!r}; known: {known}")


def _shown(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})" if value is not None else "nothing"


def as_str(cfg: ConfigFile, key: str, value: Any, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise cfg.error(key, f"{key} must be a non-empty text, not {_shown(value)}")
    return value


def as_int(cfg: ConfigFile, key: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise cfg.error(key, f"{key} must be a whole number, not {_shown(value)}")
    if minimum is not None and value < minimum:
        raise cfg.error(key, f"{key} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise cfg.error(key, f"{key} must be at most {maximum:,}, not {value:,}")
    return value


def as_number(
    cfg: ConfigFile, key: str, value: Any, low: float | None = None, high: float | None = None, low_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise cfg.error(key, f"{key} must be a finite number, not {_shown(value)}")
    if (low is not None and (value < low or (low_open and value == low))) or (high is not None and value > high):
        span = f"{'(' if low_open else '['}{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise cfg.error(key, f"{key} must be in {span}, not {value}")
    return float(value)


def as_bool(cfg: ConfigFile, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        hint = "write true or false without quotes" if isinstance(value, str) else None
        raise cfg.error(key, f"{key} must be true or false, not {_shown(value)}", hint=hint)
    return value


def as_mapping(cfg: ConfigFile, key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise cfg.error(
            key,
            f"{key} must be a mapping of keys to values, not {_shown(value)}",
            hint=f"write it as indented `name: value` lines under `{key.rpartition('.')[2]}:`",
        )
    return value


def as_list(cfg: ConfigFile, key: str, value: Any) -> list:
    if not isinstance(value, list):
        raise cfg.error(key, f"{key} must be a list, not {_shown(value)}")
    return value


def as_name(cfg: ConfigFile, key: str, value: Any, what: str) -> str:
    """A dataset or task name that is safe in partition keys and column names."""
    name = as_str(cfg, key, str(value) if isinstance(value, int) and not isinstance(value, bool) else value)
    if not NAME.match(name):
        problem = f"{what} {name!r} contains '.'" if "." in name else f"{what} {name!r} is not a plain name"
        raise cfg.error(key, problem, hint=NAME_HINT)
    if len(name) > MAX_NAME:
        raise cfg.error(
            key,
            f"{what} {name[:20]!r}... is {len(name)} characters long; at most {MAX_NAME} (it names folders and files)",
            hint="give it a shorter name",
        )
    return name


def as_metric(cfg: ConfigFile, key: str, value: Any, classification: bool) -> str:
    """A selection metric that applies to the task's kind (absent: the paper's, MA or MAE)."""
    from hanrock_core.base.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS, default_metric

    if value is None:
        return default_metric(classification)
    allowed = CLASSIFICATION_METRICS if classification else REGRESSION_METRICS
    if value not in allowed:
        kind = "classification" if classification else "regression"
        raise cfg.error(key, f"{key} {value!r} is not a {kind} metric; choose one of {list(allowed)}")
    return value
