"""Auxiliary targets: preprocessing outputs and neighbouring labels reused as supervisors.

Families (paper section 4.3): `actions` (AU05/17/20/25 intensity), `prosody` (Vokaturi happiness,
sadness, anger, fear), `historical` (the primary label at t-1..t-4), `future` (t+1..t+4), plus
any numeric column a user declares.  The platform adds text's preprocessing outputs: `lexicon` (sentiment
and emotion lexicon scores of the talkturn's words) and `lexicon_next` (the next talkturn's), on by default
where a corpus has no facial actions or voice tone (text_lexicons.py).  Reused inputs become percentile
ranks against the train split, scaled to the primary task's range (appendix A.2).
docs/auxiliary-targets.md has the rules for missing values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hanrock_core.base.errors import InputError
from hanrock_core.preparation.text_lexicons import LEXICON_COLUMNS, NEXT_COLUMNS, lexicon_scores
from hanrock_core.reading.talkturn import LABEL_PREFIX, is_class_label

FEATURE_FAMILIES: dict[str, tuple[str, ...]] = {
    "actions": ("au05_r", "au17_r", "au20_r", "au25_r"),
    "prosody": ("tone_happiness", "tone_sadness", "tone_anger", "tone_fear"),
}
LABEL_FAMILIES: dict[str, tuple[int, ...]] = {"historical": (-1, -2, -3, -4), "future": (1, 2, 3, 4)}
TEXT_FAMILIES: dict[str, tuple[str, ...]] = {"lexicon": LEXICON_COLUMNS, "lexicon_next": NEXT_COLUMNS}
PAPER_FAMILIES = tuple(FEATURE_FAMILIES) + tuple(LABEL_FAMILIES)
AUXILIARY_FAMILIES = PAPER_FAMILIES + tuple(TEXT_FAMILIES)
# the primary task's range for regression (appendix A.2); other datasets use the train labels' range
KNOWN_RANGES = {"iemocap": (1.0, 5.0), "semaine": (-1.0, 1.0)}
NO_LABEL = "no label"


@dataclass(frozen=True)
class AuxiliarySpec:
    """Which auxiliary targets to build: families (None: the data's defaults, `default_families`) plus
    user-declared extra columns."""

    families: tuple[str, ...] | None = None
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)  # family name -> numeric columns

    def __post_init__(self):
        unknown = [f for f in self.families or () if f not in AUXILIARY_FAMILIES]
        if unknown:
            raise InputError(f"unknown auxiliary families {unknown}; known: {list(AUXILIARY_FAMILIES)}")

    def families_for(self, table: pd.DataFrame) -> tuple[str, ...]:
        """The families asked for, or the defaults for this talkturn table."""
        return self.families if self.families is not None else default_families(table)


def _has_data(table: pd.DataFrame, columns: tuple[str, ...]) -> bool:
    return all(c in table.columns for c in columns) and not table[list(columns)].isna().all().all()


def default_families(table: pd.DataFrame) -> tuple[str, ...]:
    """The paper's families; where the corpus has neither facial actions nor voice tone (a text-only corpus,
    which would otherwise get no preprocessing supervisors), the text lexicon families too."""
    audiovisual = any(_has_data(table, FEATURE_FAMILIES[f]) for f in FEATURE_FAMILIES)
    return PAPER_FAMILIES if audiovisual else AUXILIARY_FAMILIES


@dataclass
class AuxiliaryTargets:
    """Targets of one primary task: one column per auxiliary task, with its family and kind."""

    primary: str  # label column, e.g. label_emotion
    classes: list[str] | None  # primary classes (classification) or None (regression)
    table: pd.DataFrame  # utterance_id, split, primary, then one column per auxiliary task
    family: dict[str, str]  # auxiliary task -> family
    kind: dict[str, str]  # auxiliary task -> "class" (5-way incl. no label) or "regression"
    target_range: tuple[float, float]

    @property
    def tasks(self) -> list[str]:
        return list(self.family)

    @classmethod
    def from_tables(cls, targets: pd.DataFrame, mi: pd.DataFrame, task: str) -> AuxiliaryTargets:
        """Rebuild from the stored targets table and MI table (which holds each task's family and kind)."""
        info = mi.set_index("task")
        tasks = [c for c in targets.columns if c in info.index]
        classification = not pd.api.types.is_numeric_dtype(targets["primary"])
        train = targets.loc[targets["split"] == "train", "primary"].dropna()
        classes = sorted(targets["primary"].dropna().astype(str).unique().tolist()) if classification else None
        return cls(
            primary=LABEL_PREFIX + task,
            classes=classes,
            table=targets,
            family={t: info.at[t, "family"] for t in tasks},
            kind={t: info.at[t, "kind"] for t in tasks},
            target_range=(0.0, 1.0) if classification else (float(train.min()), float(train.max())),
        )


def percentile_rank(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rank of each value within `reference` in [0, 1]: (#below + #equal / 2) / n.

    Ties share the mid rank, so a constant reference ranks its own value at 0.5, anything above
    at 1 and below at 0.  Missing values stay missing.
    """
    ref = np.sort(reference[~np.isnan(reference)])
    if len(ref) == 0:
        return np.full(len(values), np.nan)
    lo = np.searchsorted(ref, values, side="left")
    hi = np.searchsorted(ref, values, side="right")
    out = (lo + hi) / 2.0 / len(ref)
    return np.where(np.isnan(values), np.nan, out)


def target_range(table: pd.DataFrame, primary: str, dataset: str) -> tuple[float, float]:
    """Range the reused-input targets are scaled to: [0, 1] for classification, else the label's."""
    if is_class_label(table[primary]):
        return (0.0, 1.0)
    if dataset in KNOWN_RANGES:
        return KNOWN_RANGES[dataset]
    train = table.loc[table["split"] == "train", primary].astype(float)
    return (float(train.min()), float(train.max()))


def nearest_labelled(labels: np.ndarray, positions: np.ndarray, towards_later: np.ndarray) -> np.ndarray:
    """Index of the labelled talkturn nearest each position (clamped to the dialogue), or -1.

    At equal distance the one on the side of the current talkturn wins: `towards_later` is True
    where that side is later (history targets), False where it is earlier (future targets).
    """
    n = len(labels)
    has = ~pd.isna(labels)
    if not has.any():
        return np.full(len(positions), -1)
    idx = np.arange(n)
    prev = np.maximum.accumulate(np.where(has, idx, -1))  # last labelled at or before
    nxt = np.minimum.accumulate(np.where(has, idx, n)[::-1])[::-1]  # first labelled at or after
    pos = np.clip(positions, 0, n - 1)
    before, after = prev[pos], nxt[pos]
    far = np.iinfo(np.int64).max
    d_before = np.where(before >= 0, np.abs(positions - before), far)
    d_after = np.where(after < n, np.abs(after - positions), far)
    pick_after = (d_after < d_before) | ((d_after == d_before) & towards_later)
    return np.where(pick_after, after, before)


def neighbour_labels(table: pd.DataFrame, primary: str, offset: int, classification: bool) -> np.ndarray:
    """The primary label `offset` talkturns away in the same dialogue, filled as documented.

    A position outside the dialogue takes the nearest labelled talkturn's label.  Inside the
    dialogue, an unlabelled neighbour is the class "no label" for classification and takes the
    nearest labelled talkturn's label for regression.  Nothing labelled at all: missing.
    """
    out = np.empty(len(table), dtype=object)
    out[:] = None
    labels_all = table[primary].to_numpy(dtype=object, na_value=None)
    for idx in table.groupby("dialogue", sort=False).indices.values():
        idx = np.sort(idx)
        labels = labels_all[idx]
        positions = np.arange(len(idx)) + offset
        nearest = nearest_labelled(labels, positions, np.full(len(idx), offset < 0))
        filled = np.where(nearest >= 0, labels[np.maximum(nearest, 0)], None)
        if classification:
            inside = (positions >= 0) & (positions < len(idx))
            direct = labels[np.clip(positions, 0, len(idx) - 1)]
            missing = np.equal(filled, None)  # elementwise: the object array's empty cells
            filled = np.where(inside, np.where(pd.isna(direct), NO_LABEL, direct), np.where(missing, NO_LABEL, filled))
        out[idx] = filled
    return out


def _check_columns(table: pd.DataFrame, family: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(
            f"auxiliary family {family!r} needs columns {missing}, which the talkturn table does not have",
            hint=f"add them or switch the {family!r} family off",
        )


def build_auxiliary_targets(table: pd.DataFrame, task: str, spec: AuxiliarySpec = AuxiliarySpec()) -> AuxiliaryTargets:
    """All auxiliary targets of primary task `task` (e.g. "emotion") on one dataset's talkturn table."""
    primary = LABEL_PREFIX + task
    if primary not in table.columns:
        raise InputError(
            f"primary task {task!r} has no column {primary!r}; tasks: "
            f"{[c[len(LABEL_PREFIX) :] for c in table.columns if c.startswith(LABEL_PREFIX)]}"
        )
    train = (table["split"] == "train").to_numpy()
    if table.loc[train, primary].notna().sum() == 0:
        raise InputError(f"primary task {task!r} has no labels in the train split")
    classification = is_class_label(table[primary])
    dataset = str(table["dataset"].iloc[0])
    low, high = target_range(table, primary, dataset)
    out = pd.DataFrame(
        {
            "utterance_id": table["utterance_id"].to_numpy(),
            "split": table["split"].to_numpy(),
            "primary": table[primary].to_numpy(),
        }
    )
    family, kind = {}, {}
    families = spec.families_for(table)
    features = table
    if any(f in TEXT_FAMILIES for f in families):  # computed from the text, then reused like any feature
        features = table.join(lexicon_scores(table))
    feature_families = (
        {f: FEATURE_FAMILIES[f] for f in families if f in FEATURE_FAMILIES}
        | {f: TEXT_FAMILIES[f] for f in families if f in TEXT_FAMILIES}
        | dict(spec.extra)
    )
    for fam, columns in feature_families.items():
        _check_columns(features, fam, columns)
        for column in columns:
            values = pd.to_numeric(features[column], errors="coerce").to_numpy(dtype=float)
            rank = percentile_rank(values, values[train])
            out[column] = low + rank * (high - low)
            family[column], kind[column] = fam, "regression"
    for fam in (f for f in families if f in LABEL_FAMILIES):
        for offset in LABEL_FAMILIES[fam]:
            name = f"{task}_t{offset:+d}"
            values = neighbour_labels(table, primary, offset, classification)
            out[name] = (
                pd.array(values, dtype="string")
                if classification
                else pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
            )
            family[name], kind[name] = fam, "class" if classification else "regression"
    # every class of every split: a test talkturn of a class train lacks is an error of the model, not a row to drop
    classes = sorted(table[primary].dropna().unique().tolist()) if classification else None
    return AuxiliaryTargets(
        primary=primary, classes=classes, table=out, family=family, kind=kind, target_range=(low, high)
    )


def available_families(table: pd.DataFrame, spec: AuxiliarySpec = AuxiliarySpec()) -> tuple[list[str], list[str]]:
    """Families whose inputs exist somewhere in the table, and those that are all missing.

    A bring-your-own corpus without video or audio has no actions or prosody; its text gives the lexicon
    families (on by default there, `default_families`).
    """
    usable, empty = [], []
    for fam in spec.families_for(table):
        columns = FEATURE_FAMILIES.get(fam, ())
        no_text = fam in TEXT_FAMILIES and not table["text"].fillna("").str.strip().astype(bool).any()
        if no_text or (
            columns and all(c in table.columns for c in columns) and table[list(columns)].isna().all().all()
        ):
            empty.append(fam)
        else:
            usable.append(fam)
    return usable, empty
