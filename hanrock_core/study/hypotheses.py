"""Hypotheses and their conditions (paper section 5).

H1: HAN-ROCK with auxiliary families none (baseline), ap (actions + prosody), aphf (every family the data
    has: the paper's sixteen targets); where the text lexicon families are on (text-only corpora by
    default), also lex (those alone) and hf (the neighbouring labels alone), so that lex and aphf say what
    text's preprocessing outputs add alone and beside the labels.
H2: HAN-ROCK with the primary GRU units P in the profile's list (the largest is the baseline),
    A = capacity - P, plus P = largest with A = 0 (the "^" comparison of Table 2).
H3: flat-MTL HAN (baseline) against HAN-ROCK, both with all auxiliary targets.
H4: HAN-ROCK with every auxiliary target (H1's aphf) and the paper's fixed loss weights (baseline)
    against the same model with learned weightings (uncertainty, gating, lookahead), against
    `auto` (only the targets whose measured affinity is positive) and, for `auto`, against none
    (learning/loss_weighting.py).

("Study" elsewhere: a run of a hypothesis over every partition is a study job, `h1_study`; an
Optuna study holds one condition's trials on one partition, study_storage.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

from hanrock_core.base.errors import InputError
from hanrock_core.learning.loss_weighting import WEIGHTINGS
from hanrock_core.preparation.auxiliary_target import AUXILIARY_FAMILIES, LABEL_FAMILIES, TEXT_FAMILIES
from hanrock_core.study.profiles import Profile

HYPOTHESES = ("h1", "h2", "h3", "h4")

TABLE_VIEWS = {
    "h1": "table1_h1",
    "h2": "table2_h2",
    "h3": "table3_h3",
    "h4": "table_h4_weighting",
}  # the view of sql/views.sql printing each

# what each hypothesis asks, in a researcher's words (the UI's asset descriptions use them)
QUESTIONS = {
    "h1": "Do auxiliary targets help? HAN-ROCK trained on the primary label alone (none, the baseline) against "
    "the same model also supervised by facial actions and voice tone (ap) or by all sixteen auxiliary "
    "targets (aphf)",
    "h2": "How should the recurrent units be split? HAN-ROCK with P primary units and A = capacity - P "
    "auxiliary units, the largest P being the baseline",
    "h3": "Does the architecture matter? A flat multi-task HAN (baseline) against HAN-ROCK, both supervised "
    "by all auxiliary targets",
    "h4": "How should the auxiliary losses be weighted? HAN-ROCK with all auxiliary targets and the paper's fixed "
    "loss weights (baseline) against learned weightings (uncertainty, gradient-similarity gating, held-out "
    "lookahead) and against auto, which keeps only the targets whose measured affinity with the primary task "
    "is positive",
}


@dataclass(frozen=True)
class Condition:
    """One arm of a hypothesis: architecture, switched-on auxiliary families, capacity split."""

    name: str
    architecture: str
    families: tuple[str, ...]
    primary_units: int
    aux_units: int
    baseline: bool = False
    label: str = ""  # how the paper's table names the row
    weighting: str = "fixed"  # how the losses are weighted while training (learning/loss_weighting.py)
    draws_units: bool = True  # the search draws P (A = the rest of the capacity); H2's conditions fix both

    @property
    def recipe(self) -> tuple:
        """What decides a trial of this condition beside the profile and the data: two conditions (of any
        hypotheses) with one recipe train the same trial in every slot, so one study serves both
        (condition_reuse.py).  Name, label and baseline only say how a table shows it."""
        units = (self.aux_units > 0,) if self.draws_units else (self.primary_units, self.aux_units)
        return (self.architecture, tuple(sorted(self.families)), self.weighting, self.draws_units, units)


def conditions(hypothesis: str, profile: Profile, available: tuple[str, ...] = AUXILIARY_FAMILIES) -> list[Condition]:
    """The conditions of a hypothesis (baseline first), restricted to the families the data has.

    H1 leaves out `ap` on data without actions and prosody (e.g. text-only corpora), and a challenger
    whose families repeat an earlier one's.
    """
    P, total = profile.default_primary_units, profile.capacity_total
    ap = tuple(f for f in ("actions", "prosody") if f in available)
    aphf = tuple(f for f in AUXILIARY_FAMILIES if f in available)
    lex = tuple(f for f in TEXT_FAMILIES if f in available)
    hf = tuple(f for f in LABEL_FAMILIES if f in available) if lex else ()  # labels alone: beside lex only
    if hypothesis == "h1":  # a challenger whose families the data lacks would only repeat the baseline
        out: list[Condition] = []
        for name, families, label in (
            ("none", (), "None (Baseline)"),
            ("ap", ap, "ap"),
            ("aphf", aphf, "aphf"),
            ("hf", hf, "hf (labels)"),
            ("lex", lex, "lex (text lexicons)"),
        ):
            if name == "none" or (families and all(families != c.families for c in out)):
                out.append(Condition(name, "han_rock", families, P, total - P, name == "none", label))
        return out
    if hypothesis == "h2":
        units = sorted(profile.h2_primary_units, reverse=True)
        label = {p: f"{p} (Baseline)" if i == 0 else str(p) for i, p in enumerate(units)}
        out = [
            Condition(f"p{p}", "han_rock", aphf, p, total - p, i == 0, label[p], draws_units=False)
            for i, p in enumerate(units)
        ]
        a0 = f"{units[0]}, A = 0"
        out.append(Condition(f"p{units[0]}_a0", "han_rock", aphf, units[0], 0, False, a0, draws_units=False))
        return out
    if hypothesis == "h3":
        return [
            Condition("flat", "flat_mtl", aphf, P, total - P, True, "Flat (Baseline)"),
            Condition("han_rock", "han_rock", aphf, P, total - P, False, "HAN-ROCK"),
        ]
    if hypothesis == "h4":
        rock = ("han_rock", aphf, P, total - P)
        return [
            Condition("aphf", *rock, True, "aphf, fixed (Baseline)"),
            Condition("none", "han_rock", (), P, total - P, False, "None"),
            *(Condition(w, *rock, False, w, weighting=w) for w in WEIGHTINGS if w != "fixed"),
        ]
    raise InputError(f"unknown hypothesis {hypothesis!r}; choose one of {HYPOTHESES}")


def comparisons(hypothesis: str, conds: list[Condition], floor: bool = False) -> list[tuple[str, str]]:
    """(baseline, challenger) pairs the significance table reports; with `floor`, every condition against it too."""
    base = next(c.name for c in conds if c.baseline)
    pairs = [(base, c.name) for c in conds if not c.baseline and not c.name.endswith("_a0")]
    if hypothesis == "h4":  # the weightings against the fixed one; auto's chosen targets against none too
        pairs = [(base, c.name) for c in conds if c.weighting != "fixed"] + [("none", "auto")]
    if hypothesis == "h2":  # "^": A = 1-style auxiliary encoders against none at the same P
        pairs += [(c.name, base) for c in conds if c.name.endswith("_a0")]
    if floor:  # does the selected neural model beat a bag of words? (hanrock_core/learning/floor.py)
        pairs += [("floor", c.name) for c in conds]
    return pairs


__all__ = ["HYPOTHESES", "TABLE_VIEWS", "Condition", "comparisons", "conditions"]
