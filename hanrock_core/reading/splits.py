"""Assigning sessions to train/dev/test from a YAML file, refusing leaks between splits."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from hanrock_core.base.errors import InputError
from hanrock_core.base.input_files import read_text
from hanrock_core.base.notices import Notices, ensure
from hanrock_core.reading.talkturn import SPLITS


@dataclass
class SplitPlan:
    """session -> split, with where each entry came from (file and line) for error messages."""

    source: str
    session_split: dict[str, str] = field(default_factory=dict)
    session_line: dict[str, int] = field(default_factory=dict)


def default_split_file(corpus: str) -> Path:
    """The packaged Table 5 split file of `corpus` (iemocap or semaine)."""
    return Path(str(resources.files("hanrock_core.reading") / "defaults" / f"splits_{corpus}.yaml"))


def load_split_plan(path: str | Path) -> SplitPlan:
    """Read `{train: [...], dev: [...], test: [...]}`; a session listed twice is refused."""
    path = Path(path)
    try:
        root = yaml.compose(read_text(path, "split file"))
    except yaml.YAMLError as exc:
        raise InputError(f"cannot read split file: {exc}", path) from exc
    if not isinstance(root, yaml.MappingNode):
        raise InputError("expected a mapping of split -> list of sessions", path, 1)
    plan = SplitPlan(source=str(path))
    for key_node, value_node in root.value:
        part = key_node.value
        if part not in SPLITS:
            raise InputError(f"unknown split {part!r}; use train, dev or test", path, key_node.start_mark.line + 1)
        if not isinstance(value_node, yaml.SequenceNode):
            raise InputError(f"split {part!r} must list sessions", path, value_node.start_mark.line + 1)
        for item in value_node.value:
            line = item.start_mark.line + 1
            if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
                raise InputError(
                    f"split {part!r} holds an entry that is not a session id",
                    path,
                    line,
                    hint="write one session id per list item",
                )
            session = str(item.value).strip()
            if session in plan.session_split:
                raise InputError(
                    f"session {session!r} is listed in {plan.session_split[session]!r} (line "
                    f"{plan.session_line[session]}) and again in {part!r}",
                    path,
                    line,
                    hint="a session may belong to one split only",
                )
            plan.session_split[session] = part
            plan.session_line[session] = line
    return plan


def assign_splits(
    table: pd.DataFrame, plan: SplitPlan, speaker_disjoint: bool = True, notices: Notices | None = None
) -> pd.DataFrame:
    """Set the `split` column from the plan; refuse unknown sessions, empty splits and shared speakers."""
    notices = ensure(notices)
    sessions = table["session"].astype(str)
    unknown = sorted(set(sessions) - set(plan.session_split))
    if unknown:
        raise InputError(
            f"sessions {unknown[:5]} are not assigned to a split",
            plan.source,
            hint="list every session of the corpus under train, dev or test",
        )
    table = table.copy()
    table["split"] = sessions.map(plan.session_split).astype("string")
    absent = [s for s in plan.session_split if s not in set(sessions)]
    for part in SPLITS:
        listed = [s for s in absent if plan.session_split[s] == part]
        if not (table["split"] == part).any():
            first = min((plan.session_line[s] for s in listed), default=None)
            raise InputError(
                f"split {part!r} has no talkturns: "
                + (f"none of its sessions {listed[:5]} is in the corpus" if listed else "it lists no session"),
                plan.source,
                first,
                hint="list sessions that exist in this corpus (its sessions: "
                f"{sorted(set(sessions))[:8]}{' ...' if sessions.nunique() > 8 else ''})",
            )
        if listed:
            notices.warn(
                f"split {part!r} lists {len(listed)} session(s) that the corpus does not have: "
                f"{listed[:5]}{' ...' if len(listed) > 5 else ''}",
                plan.source,
                plan.session_line[listed[0]],
            )
    if speaker_disjoint:
        check_speakers_disjoint(table, plan.source)
    return table


def check_speakers_disjoint(table: pd.DataFrame, source: str) -> None:
    """Refuse a speaker who talks in two splits (the paper's sets share no speaker)."""
    parts = table.groupby("speaker", observed=True)["split"].unique()
    shared = parts[parts.map(len) > 1]
    if len(shared):
        speaker = shared.index[0]
        where = table[table["speaker"] == speaker].groupby("split", observed=True)["session"].first()
        detail = ", ".join(f"{p} (session {s})" for p, s in where.items())
        raise InputError(
            f"speaker {speaker!r} appears in several splits: {detail}",
            source,
            hint="move that speaker's sessions into one split",
        )
