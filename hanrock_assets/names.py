"""The names of the platform's assets, checks and groups: one place, so wiring and steps never spell them twice."""

RAW_SESSIONS = "raw_sessions"
MONAH_NARRATIVES = "monah_narratives"
AUXILIARY_TARGETS = "auxiliary_targets"
MUTUAL_INFORMATION = "mutual_information"
ATTENTION_REPORT = "attention_report"
TASK_INPUTS = (RAW_SESSIONS, MONAH_NARRATIVES, AUXILIARY_TARGETS, MUTUAL_INFORMATION)  # what a training step reads

SIGNIFICANCE_CHECK = "all_partitions_trained"
HEALTH_CHECK = "study_health"
DECIDED_CHECK = "comparisons_decided"


def trials(hypothesis: str) -> str:
    """`h1_trials`: the search of every condition of a hypothesis, per dataset.task."""
    return f"{hypothesis}_trials"


def models(hypothesis: str) -> str:
    """`h1_models`: the kept model of every condition, per dataset.task."""
    return f"{hypothesis}_models"


def significance(hypothesis: str) -> str:
    """`h1_significance`: the bootstrap table of a hypothesis over every partition."""
    return f"{hypothesis}_significance"
