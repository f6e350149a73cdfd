"""A study's identity: a fingerprint of everything its trials' results depend on.

An Optuna study of a condition is named `h.dataset.task.condition[@metric]#<identity>`, so a run
whose inputs differ from a stored study's never resumes it: it starts a study of its own and the
old one stays in the storage (and in the results database) as superseded.  The identity has five
parts, each a SHA-256 prefix, so a log line can say which one changed:

    profile     the profile's content, not its name (trials_per_condition, replicates and bootstrap
                left out: trial k does not depend on how many trials or seed replicates run, nor on
                the significance step)
    narratives  the narrative recipe: family and kept punctuation
    targets     the auxiliary targets (names, kinds, families, values) and their MI (loss weights)
    data        the model input, primary label, split and dialogue position of every talkturn,
                the selection metric, and pretrained word vectors where used
    code        the modules that compute a trial's numbers: the import closure of the trial's entry
                points (TRIAL_ENTRY_POINTS, found by grimp) that does not pass through a module that
                only carries results (RESULT_CARRIERS), their syntax without docstrings
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

PARTS = ("profile", "narratives", "targets", "data", "code")
PACKAGE = "hanrock_core"
# where a trial's numbers are decided: its configuration, loss weights, seed and training (objective), the
# sampler and pruner of its study (median_stopping), its seed replicates (replicates), the floor row beside
# it (floor) and the tensors it trains on (partition_data); every module these import, directly or not,
# counts too (`trial_modules`), except through a result carrier
TRIAL_ENTRY_POINTS = (
    "study.objective",
    "study.median_stopping",
    "study.replicates",
    "learning.floor",
    "study.partition_data",
)
# modules that move, store or describe results but decide none of their numbers: a change to one of them
# restarts no study (docs/architecture.md, "What restarts a study"); the closure neither counts them nor
# follows their imports
RESULT_CARRIERS = (
    "cli",  # the command line
    "base.deployment",  # HANROCK_* variables: hosts, workers, executors (compile is a speed setting)
    "base.home",  # where files go
    "base.io",  # how files are written (atomically)
    "base.staged_results",  # results rows staged for the database
    "base.results",  # the results database
    "base.concurrency",  # locks
    "base.errors",  # error types and their messages
    "base.notices",  # notices to the user
    "base.config_file",  # how settings files are parsed (their values count in the other parts)
    "base.input_files",  # how input files are decoded (their content counts in the data part)
    "learning.kept_model",  # the kept model folder's format
    "study.keeping",  # writing kept models
    "study.study_storage",  # where studies are stored, locks, the slot queue
    "study.retrying_storage",  # retries of the study storage
    "study.worker_pool",  # which process runs a trial
    "study.study_identity",  # this module
)
PROFILE_LEFT_OUT = ("name", "trials_per_condition", "replicates", "bootstrap")
SEPARATOR = "#"


@dataclass(frozen=True)
class StudyIdentity:
    """The five part fingerprints of a study; `id` names the whole."""

    parts: dict[str, str]

    @property
    def id(self) -> str:
        return _digest(json.dumps(self.parts, sort_keys=True).encode())[:12]

    def differs(self, other: dict | None) -> list[str]:
        """The parts in which a stored study's recorded parts differ (all of them when it recorded none)."""
        if not other:
            return list(PARTS)
        return [p for p in PARTS if other.get(p) != self.parts.get(p)]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hash_json(value) -> str:
    return _digest(json.dumps(value, sort_keys=True, default=str).encode())[:16]


def _hash_arrays(*arrays) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(np.asarray(array))
        if array.dtype.kind in "OUS":  # text: its UTF-8 bytes, one value per line
            digest.update("\n".join(map(str, array.ravel())).encode("utf-8"))
        else:
            digest.update(str((array.dtype.str, array.shape)).encode())
            digest.update(array.tobytes())
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def profile_part(profile) -> str:
    """The profile's content without its name (a copy renamed is the same study)."""
    content = {k: v for k, v in asdict(profile).items() if k not in PROFILE_LEFT_OUT}
    return _hash_json(content)


@functools.cache
def trial_modules() -> tuple[str, ...]:
    """Every module of the package whose code decides a trial's numbers: the modules TRIAL_ENTRY_POINTS
    import, directly or through others (lazy imports included), read from the source by grimp rather
    than listed by hand, without entering a RESULT_CARRIERS module."""
    import grimp  # the import graph of the package's source; loaded only when an identity is computed

    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    carriers = {f"{PACKAGE}.{m}" for m in RESULT_CARRIERS}
    closure, todo = set(), [f"{PACKAGE}.{entry}" for entry in TRIAL_ENTRY_POINTS]
    while todo:
        module = todo.pop()
        if module in closure or module in carriers:
            continue
        closure.add(module)
        todo += graph.find_modules_directly_imported_by(module)
    # importing a.b.c runs a/__init__.py and a/b/__init__.py too
    closure |= {m.rsplit(".", n)[0] for m in closure for n in range(1, m.count(".") + 1)}
    return tuple(sorted(m for m in closure if m == PACKAGE or m.startswith(PACKAGE + ".")))


def module_source(module: str) -> str:
    """The source text of one module of the package (a package's `__init__.py`)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"{module} has no source file")
    return Path(spec.origin).read_text(encoding="utf-8")


def _without_docstrings(source: str) -> str:
    """The module's syntax tree without docstrings: a reformatting, a comment or a docstring is no new study."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_part(sources: Mapping[str, str] | None = None) -> str:
    """The fingerprint of every module a trial runs (`sources` replaces some modules' text: for tests)."""
    sources = sources or {}
    digest = hashlib.sha256()
    for module in trial_modules():
        text = sources[module] if module in sources else module_source(module)
        digest.update(module.encode() + b"\x00" + _without_docstrings(text).encode() + b"\x00")
    return digest.hexdigest()[:16]


def study_identity(part, profile) -> StudyIdentity:
    """The identity of a partition's studies under a profile (`part` is a search.PartitionData)."""
    data = part.data
    vectors = () if data.vectors is None else (data.vectors.numpy(),)
    mi = part.mi.reindex(list(data.aux_names))
    return StudyIdentity(
        {
            "profile": profile_part(profile),
            "narratives": _hash_json([part.narrative.family, part.narrative.keep_punctuation]),
            "targets": _hash_arrays(
                np.asarray(data.aux_names),
                np.asarray(data.aux_kinds),
                np.asarray([part.family.get(t, "") for t in data.aux_names]),
                data.aux.numpy(),
                mi.to_numpy(dtype=float),
            ),
            "data": _hash_arrays(
                data.utterance_ids,
                data.texts if data.texts is not None else np.asarray([]),
                data.primary.numpy(),
                data.split,
                data.dialogue_codes,
                data.turn_index,
                np.asarray(data.classes or []),
                np.asarray([str(data.metric)]),
                *vectors,
            ),
            "code": code_part(),
        }
    )


def study_name(base: str, identity: StudyIdentity) -> str:
    """`h1.iemocap.emotion.none` + `#` + the identity."""
    return f"{base}{SEPARATOR}{identity.id}"


def base_of(name: str) -> str:
    """The condition part of a study name (a study made before identities has no `#`)."""
    return name.split(SEPARATOR, 1)[0]


__all__ = [
    "PARTS",
    "RESULT_CARRIERS",
    "TRIAL_ENTRY_POINTS",
    "StudyIdentity",
    "base_of",
    "code_part",
    "profile_part",
    "study_identity",
    "study_name",
    "trial_modules",
]
