"""Assigning sessions to train/dev/test from a YAML file, refusing leaks between partitions."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from .errors import InputError
from .input_files import read_text
from .notices import Notices, ensure
from .talkturn import PARTITIONS


@dataclass
class PartitionPlan:
    """session -> partition, with where each entry came from (file and line) for error messages."""

    source: str
    session_partition: dict[str, str] = field(default_factory=dict)
    session_line: dict[str, int] = field(default_factory=dict)


def default_partition_file(corpus: str) -> Path:
    """The packaged Table 5 partition file of `corpus` (iemocap or semaine)."""
    return Path(str(resources.files("hanrock_core") / "defaults" / f"partitions_{corpus}.yaml"))


def load_partition_plan(path: str | Path) -> PartitionPlan:
    """Read `{train: [...], dev: [...], test: [...]}`; a session listed twice is refused."""
    path = Path(path)
    try:
        root = yaml.compose(read_text(path, "partition file"))
    except yaml.YAMLError as exc:
        raise InputError(f"cannot read partition file: {exc}", path) from exc
    if not isinstance(root, yaml.MappingNode):
        raise InputError("expected a mapping of partition -> list of sessions", path, 1)
    plan = PartitionPlan(source=str(path))
    for key_node, value_node in root.value:
        part = key_node.value
        if part not in PARTITIONS:
            raise InputError(f"unknown partition {part!r}; use train, dev or test", path, key_node.start_mark.line + 1)
        if not isinstance(value_node, yaml.SequenceNode):
            raise InputError(f"partition {part!r} must list sessions", path, value_node.start_mark.line + 1)
        for item in value_node.value:
            line = item.start_mark.line + 1
            if not isinstance(item, yaml.ScalarNode) or not str(item.value).strip():
                raise InputError(f"partition {part!r} holds an entry that is not a session id", path, line,
                                 hint="write one session id per list item")
            session = str(item.value).strip()
            if session in plan.session_partition:
                raise InputError(
                    f"session {session!r} is listed in {plan.session_partition[session]!r} (line "
                    f"{plan.session_line[session]}) and again in {part!r}",
                    path,
                    line,
                    hint="a session may belong to one partition only",
                )
            plan.session_partition[session] = part
            plan.session_line[session] = line
    return plan


def assign_partitions(table: pd.DataFrame, plan: PartitionPlan, speaker_disjoint: bool = True,
                      notices: Notices | None = None) -> pd.DataFrame:
    """Set the `partition` column from the plan; refuse unknown sessions, empty partitions and shared speakers."""
    notices = ensure(notices)
    sessions = table["session"].astype(str)
    unknown = sorted(set(sessions) - set(plan.session_partition))
    if unknown:
        raise InputError(
            f"sessions {unknown[:5]} are not assigned to a partition",
            plan.source,
            hint="list every session of the corpus under train, dev or test",
        )
    table = table.copy()
    table["partition"] = sessions.map(plan.session_partition).astype("string")
    absent = [s for s in plan.session_partition if s not in set(sessions)]
    for part in PARTITIONS:
        listed = [s for s in absent if plan.session_partition[s] == part]
        if not (table["partition"] == part).any():
            first = min((plan.session_line[s] for s in listed), default=None)
            raise InputError(
                f"partition {part!r} has no talkturns: " + (
                    f"none of its sessions {listed[:5]} is in the corpus" if listed else "it lists no session"),
                plan.source, first,
                hint="list sessions that exist in this corpus (its sessions: "
                     f"{sorted(set(sessions))[:8]}{' ...' if sessions.nunique() > 8 else ''})",
            )
        if listed:
            notices.warn(f"partition {part!r} lists {len(listed)} session(s) that the corpus does not have: "
                         f"{listed[:5]}{' ...' if len(listed) > 5 else ''}", plan.source, plan.session_line[listed[0]])
    if speaker_disjoint:
        check_speakers_disjoint(table, plan.source)
    return table


def check_speakers_disjoint(table: pd.DataFrame, source: str) -> None:
    """Refuse a speaker who talks in two partitions (the paper's sets share no speaker)."""
    parts = table.groupby("speaker", observed=True)["partition"].unique()
    shared = parts[parts.map(len) > 1]
    if len(shared):
        speaker = shared.index[0]
        where = table[table["speaker"] == speaker].groupby("partition", observed=True)["session"].first()
        detail = ", ".join(f"{p} (session {s})" for p, s in where.items())
        raise InputError(
            f"speaker {speaker!r} appears in several partitions: {detail}",
            source,
            hint="move that speaker's sessions into one partition",
        )
