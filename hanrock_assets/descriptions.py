"""What each asset is, in a researcher's words: the text the Dagster UI shows on the asset's page.

One place, so the wording is kept together; developer notes stay in the code's docstrings.
A "dataset.task" partition is one dataset and one primary label, e.g. `iemocap.emotion`.
"""

from hanrock_core.study.hypotheses import QUESTIONS

from .pages import partition_links

PARTITION = "One partition per dataset and primary label (dataset.task, e.g. iemocap.emotion)."

RAW_SESSIONS = (
    "Every talkturn of one dataset: who spoke, the words, the emotion labels, and the facial action units "
    "and voice tone measured while speaking. Read from the corpus files configured in hanrock.yaml, or, "
    "without them, from the built-in synthetic corpus written in the same layouts. One partition per dataset."
)
MONAH_NARRATIVES = (
    "Each talkturn three ways: the words as spoken, its MONAH narrative (the words woven with how they "
    "were said: voice tone and facial actions written as words) and the text the models read. The recipe "
    "(narrative family, kept punctuation) is set per dataset under `narratives:` in hanrock.yaml."
)
AUXILIARY_TARGETS = (
    "Per talkturn: the primary label the model is trained to predict, and the auxiliary targets that "
    "supervise it alongside (facial actions, voice tone and the neighbouring talkturns' labels, paper "
    "A.2), scaled to percentiles. " + PARTITION
)
MUTUAL_INFORMATION = (
    "How much each auxiliary target tells about the primary label (mutual information on the train "
    "split), highest first, as a table and a bar chart; the MI loss-weight schemes follow it. " + PARTITION
)


def trials(hypothesis: str) -> str:
    return (
        f"{QUESTIONS[hypothesis]}. The random search on one dataset.task: every condition trained with the "
        "same trial configurations, every trial's dev and test score (rows in results.duckdb), the bag-of-"
        "words floor beside them, and each condition's learning curves. The study-health check warns when "
        "a trial never left chance level or a selected model had not finished learning."
    )


def models(hypothesis: str) -> str:
    return (
        f"The model kept for each {hypothesis.upper()} condition on one dataset.task (its trial with the "
        "best dev score): weights, vocabulary and card under $HANROCK_HOME/models. Apply it to new "
        "talkturns with `hanrock predict` (the command is on this page)."
    )


def significance(hypothesis: str) -> str:
    """Short, so that the verdicts (the first metadata entry, `answer`) are on the first screen of a laptop."""
    return (
        f"{hypothesis.upper()}: {SHORT_QUESTIONS[hypothesis]} The verdicts first; `how to read` says what each number "
        "is, `trials` links each dataset.task's trials."
    )


SHORT_QUESTIONS = {
    "h1": "do auxiliary targets help (none against ap and aphf)?",
    "h2": "how should the recurrent units be split between the primary and the auxiliary branch?",
    "h3": "does the architecture matter (flat multi-task HAN against HAN-ROCK)?",
    "h4": "how should the auxiliary losses be weighted (fixed against learned weightings, and auto)?",
}


def with_partition_links(text: str, asset: str, keys: list[str]) -> str:
    """A partitioned asset's description and a link to each partition's page (Dagster opens the asset on
    the partition materialised last, and its Partitions tab with none selected)."""
    return text + partition_links(asset, keys)


ATTENTION_REPORT = (
    "An HTML page (paper appendix A.5, Figure 5): which words and which talkturns the kept H1 model "
    "supervised by all auxiliary targets attends to on sampled test talkturns, beside the same model "
    "trained on the primary label alone. Build it after `make demo` with `make report` (or materialise "
    "this asset for one dataset.task once h1_models has it)."
)
