"""`hanrock` command line: data work outside Dagster (generate, load and inspect corpora, results, reports)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from hanrock_core.base.errors import InputError
from hanrock_core.reading.layouts import LAYOUTS, SYNTHETIC_LAYOUTS, ReadingOptions


def _synth(args: argparse.Namespace) -> None:
    from hanrock_core.reading.synthetic import generate

    t0 = time.perf_counter()
    generate(args.corpus, args.dir, scale=args.scale, seed=args.seed)
    print(
        f"wrote synthetic {args.corpus} corpus (scale {args.scale}, seed {args.seed}) to {args.dir} "
        f"in {time.perf_counter() - t0:.1f} s"
    )


def check_output_path(out: Path) -> None:
    """Refuse an --out that cannot be written before any work is done."""
    if out.is_dir():
        raise InputError("--out is a directory", out, hint="give a file name, e.g. talkturns.parquet")
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"--out cannot be created: {folder} is not a directory", out)
    if not os.access(folder, os.W_OK):
        raise InputError(f"--out cannot be written: {folder} is read-only", out, hint="choose a writable folder")


def _print_notices(notices) -> None:
    for notice in notices.items:
        print(f"hanrock: {notice.render()}", file=sys.stderr)
    if notices.warnings:
        print(
            f"hanrock: {len(notices.warnings)} warning(s) about the data (see above)",
            file=sys.stderr,
        )


def _load(args: argparse.Namespace) -> None:
    from hanrock_core.base.io import write_parquet_atomic
    from hanrock_core.base.notices import Notices
    from hanrock_core.reading.talkturn import summarise

    t0 = time.perf_counter()
    if args.out:
        check_output_path(args.out)
    notices = Notices()
    table = _read_corpus_of(args, args.corpus, args.root, notices)
    if args.out:
        try:
            write_parquet_atomic(table, args.out)
        except OSError as exc:
            raise InputError(f"cannot write the talkturn table: {exc.strerror or exc}", args.out) from None
    print(summarise(table))
    _print_notices(notices)
    where = f" and wrote {args.out}" if args.out else ""
    print(f"read {len(table):,} talkturns in {time.perf_counter() - t0:.1f} s{where}")


def _predict_input(args: argparse.Namespace, notices) -> pd.DataFrame:  # noqa: F821 - pandas loads late
    """The talkturns INPUT names: a talkturn table (.parquet), one file of a bring-your-own spec, or a corpus."""
    import pandas as pd

    from hanrock_core.reading.corpora import read_byo_file

    source = args.input
    if source.is_file() and source.suffix.lower() == ".parquet" and args.spec is None:
        if args.corpus:
            raise InputError(f"--corpus {args.corpus} reads a corpus folder, but INPUT is a talkturn table", source)
        try:
            return pd.read_parquet(source)
        except Exception as exc:  # noqa: BLE001 - any Parquet failure is reported with the file name
            raise InputError(
                f"cannot read the talkturn table: {exc}",
                source,
                hint="write one with `hanrock load ... --out talkturns.parquet`",
            ) from None
    if source.is_file():
        if args.spec is None:
            raise InputError(
                "a file of new conversations needs --spec SPEC.yaml (the columns it is written in)",
                source,
                hint="or give a talkturn table (.parquet) from `hanrock load`",
            )
        return read_byo_file(args.spec, source, notices=notices)
    if not source.is_dir():
        raise InputError("INPUT does not exist", source)
    corpus = args.corpus or ("byo" if args.spec else None)
    if corpus is None:
        raise InputError(
            f"INPUT is a folder: say how to read it with --corpus {'|'.join(SYNTHETIC_LAYOUTS)}, or --spec SPEC.yaml",
            source,
        )
    return _read_corpus_of(args, corpus, source, notices, require_labels=False)


def _read_corpus_of(args: argparse.Namespace, corpus: str, root: Path, notices, require_labels: bool = True):
    """The talkturn table of a corpus folder, with the reading options `load` and `predict` share (talkturns to
    predict need no labels)."""
    from hanrock_core.reading.corpora import read_corpus

    return read_corpus(corpus, root, _reading_options(args), notices=notices, require_labels=require_labels)


def _reading_options(args: argparse.Namespace) -> ReadingOptions:
    """The reading options `load` and `predict` take, as the one object every reader is given."""
    return ReadingOptions(args.spec, args.splits, args.openface, args.vokaturi, args.openface_fps)


def _predict(args: argparse.Namespace) -> None:
    import pandas as pd

    from hanrock_core.base.io import write_parquet_atomic
    from hanrock_core.base.notices import Notices
    from hanrock_core.learning.kept_model import open_model, resolve_model
    from hanrock_core.learning.prediction import predict_talkturns, scores
    from hanrock_core.preparation.settings import load_settings

    t0 = time.perf_counter()
    check_output_path(args.out)
    if args.ensemble and args.attention:
        raise InputError("--attention reads one network's attention; it cannot be combined with --ensemble")
    model = open_model(resolve_model(args.model, load_settings().home), ensemble=args.ensemble)
    print(
        f"model: {model.name}{f' (seed ensemble of {len(model.members)})' if model.members else ''} "
        f"({model.directory}); narratives {model.card['inputs']['narrative_family']}, "
        f"content size {model.card['inputs']['content_size']}, {len(model.vocab):,} words"
    )
    notices = Notices()
    table = _predict_input(args, notices)
    predictions = predict_talkturns(
        model,
        table,
        attention=args.attention,
        split=args.split,
        device=args.device,
        source=str(args.input),
        notices=notices,
    )
    _print_notices(notices)
    try:
        write_parquet_atomic(predictions, args.out)
    except OSError as exc:
        raise InputError(f"cannot write the predictions: {exc.strerror or exc}", args.out) from None
    measured = scores(model, predictions)
    if len(measured):
        with pd.option_context("display.width", 200, "display.max_columns", 12):
            print(
                f"labelled talkturns ({model.card['selection']['metric']} selects the model):\n"
                f"{measured.round(4).to_string(index=False)}"
            )
    counts = (
        predictions["prediction"].value_counts().head(10) if model.classes else predictions["prediction"].describe()
    )
    print(f"predictions: {counts.to_dict() if model.classes else counts.round(3).to_dict()}")
    print(f"predicted {len(predictions):,} talkturns in {time.perf_counter() - t0:.1f} s and wrote {args.out}")


def _config(args: argparse.Namespace) -> None:
    from hanrock_core.preparation.datasets import dataset_tasks
    from hanrock_core.preparation.settings import config_path, load_settings
    from hanrock_core.study.profiles import load_profile

    settings = load_settings(args.file)
    print(f"settings: {args.file or config_path() or '(built-in defaults)'}")
    print(f"data directory: {settings.home}")
    print(f"synthetic corpus: scale {settings.synthetic_scale:g}, seed {settings.synthetic_seed}")
    broken = []
    for name, cfg in sorted(settings.datasets.items()):
        try:
            tasks = dataset_tasks(settings, name)
        except InputError as exc:
            broken.append(name)
            print(f"dataset {name}: misconfigured (its steps fail, the others run)")
            print(f"hanrock: error: dataset {name}: {exc}", file=sys.stderr)
            continue
        where = cfg.spec or cfg.root or "embedded synthetic corpus"
        print(f"dataset {name} ({settings.dataset(name).corpus}, {where}): tasks {', '.join(tasks)}")
    if args.profile:
        profile = load_profile(args.profile)
        print(
            f"profile {profile.name}: {profile.trials_per_condition} trials per condition, "
            f"up to {profile.epochs} epochs"
            + (f", patience {profile.patience}" if profile.patience else "")
            + (f", {profile.replicates} seed replicates" if profile.replicates else "")
        )
    if broken:
        raise InputError(f"{len(broken)} dataset(s) are misconfigured: {broken} (see above)", settings.source)


def _bench(args: argparse.Namespace) -> None:
    import json

    from hanrock_core.checks.bench import report, run

    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise InputError(
                "--device cuda: this PyTorch sees no CUDA device",
                hint="use --device cpu, or install a CUDA build of torch on a machine with a GPU",
            )
    recurrences = ("fused", "torch") if args.gru == "both" else (args.gru,)
    figures = run(
        reference=args.reference,
        steps=args.steps,
        epoch_talkturns=args.epoch_talkturns,
        compile=args.compile,
        device=args.device,
        recurrences=recurrences,
    )
    print(json.dumps(figures) if args.json else report(figures))


def _results(args: argparse.Namespace) -> None:
    import pandas as pd

    from hanrock_core.base.results import connect, ensure_current
    from hanrock_core.preparation.settings import load_settings

    path = args.db or load_settings().home.results_db
    if not Path(path).exists():
        raise InputError(
            "no results yet", path, hint="run a study first, e.g. dagster job execute -m hanrock_assets -j h1_study"
        )
    ensure_current(path, log=lambda line: print(f"hanrock: info: {line}", file=sys.stderr))
    view = RESULT_VIEWS.get(args.view, args.view)
    with connect(path, read_only=True) as conn, pd.option_context("display.width", 250, "display.max_columns", 20):
        if view == "views":  # what each view holds (sql/views.sql's COMMENT ON lines)
            listed = conn.execute(
                "SELECT view_name AS view, comment FROM duckdb_views() WHERE NOT internal AND comment IS NOT NULL "
                "ORDER BY view_name"
            ).df()
            print(listed.to_string(index=False, max_colwidth=120))
            return
        columns = [c[0] for c in conn.execute(f"DESCRIBE {view}").fetchall()]
        by = next((c for c in ("dataset", "dataset.task", "dataset_task") if c in columns), None)
        if args.dataset and by is None:
            raise InputError(
                f"{args.view} has no dataset column (its columns: {', '.join(columns[:8])}"
                f"{', ...' if len(columns) > 8 else ''})",
                hint="leave out --dataset, or use results_long, verdicts, significance or mutual_information",
            )
        if args.dataset:
            known = sorted(r[0] for r in conn.execute("SELECT DISTINCT dataset FROM all_trials").fetchall())
            if args.dataset not in known:
                raise InputError(
                    f"no results for dataset {args.dataset!r}",
                    path,
                    hint=f"datasets with results: {', '.join(known) or 'none yet'}",
                )
        where, params = ("", [])
        if args.dataset:  # a dataset's rows: its own column, or the dataset part of dataset.task
            where = f' WHERE "{by}" = ?' if by == "dataset" else f""" WHERE split_part("{by}", '.', 1) = ?"""
            params = [args.dataset]
        rows = conn.execute(f"SELECT * FROM {view}{where}", params).df()
        if rows.empty and args.view == "superseded":
            print("no superseded studies: every partition's rows come from the inputs its studies were trained on")
            return
        print(rows.astype(object).where(rows.notna(), "").to_string(index=False))  # an empty cell, not "None"
        if args.view == "health":  # the comparisons too: a weak test, or a flagged model on either side
            weak = conn.execute(
                "SELECT * FROM verdicts WHERE health <> ''" + (' AND "dataset.task" LIKE ?' if args.dataset else ""),
                [f"{args.dataset}.%"] if args.dataset else [],
            ).df()
            print(f"\ncomparisons with a health flag: {len(weak)}")
            if len(weak):
                print(weak.to_string(index=False))


# `hanrock results NAME`: the views of sql/views.sql, and short names for a few
RESULT_VIEWS = {
    "superseded": "superseded_studies",
    "identities": "current_identities",
    "health": "study_health",
    "affinity": "auxiliary_affinity",
    "affinity_family": "auxiliary_affinity_family",
}


def _calibrate(args: argparse.Namespace) -> None:
    import pandas as pd

    from hanrock_core.base.io import write_parquet_atomic
    from hanrock_core.comparison.calibration import calibrate, check_arguments, report_folder
    from hanrock_core.preparation.settings import load_settings
    from hanrock_core.study.partition_loading import load_partition
    from hanrock_core.study.profiles import load_profile
    from hanrock_core.study.study_identity import study_identity

    settings = load_settings()
    dataset, _, task = args.partition.partition(".")
    if not task:
        raise InputError(f"{args.partition!r} is not DATASET.TASK", hint="e.g. iemocap.emotion")
    profile = load_profile(args.profile)
    check_arguments(profile, args.studies, args.challenger, args.planted)
    part = load_partition(settings, dataset, task, log=print, min_count=profile.min_count)
    identity = study_identity(part, profile)
    summary, verdicts = calibrate(
        part,
        profile,
        [settings.home.calibration_study(part.key, identity.id, i) for i in range(args.studies)],
        planted=args.planted,
        challenger=args.challenger,
        log=print,
        corpus=args.name or part.key,
    )
    out = args.out or report_folder(
        settings.home.calibration_report(part.key), profile, args.studies, args.challenger, args.planted
    )
    write_parquet_atomic(summary, out / "summary.parquet")
    write_parquet_atomic(verdicts, out / "verdicts.parquet")
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(summary.round(3).to_string(index=False))
    print(f"wrote {out / 'summary.parquet'} and {out / 'verdicts.parquet'}")


def _dashboard(args: argparse.Namespace) -> None:
    import optuna
    import optuna_dashboard

    from hanrock_core.base.deployment import read_deployment
    from hanrock_core.preparation.settings import load_settings
    from hanrock_core.study.study_storage import dashboard_storage, without_password

    url = dashboard_storage(load_settings().home, args.studies, read_deployment().optuna_storage)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = optuna.get_all_study_names(url)
    print(f"optuna-dashboard of {without_password(url)}: {len(names)} studies (one per condition and inputs)")
    for name in names:
        study = optuna.load_study(study_name=name, storage=url)
        attrs = study.user_attrs
        where = f"{attrs.get('hypothesis', '?')} {attrs.get('dataset', '?')}.{attrs.get('task', '?')}"
        objective = ", ".join(study.metric_names or ["dev value"])
        print(f"  {name}: {where}, {len(study.trials)} trials, objective: {objective}")
    print(f"open http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    optuna_dashboard.run_server(url, host=args.host, port=args.port)


def _dashboard_command(sub) -> None:
    """`hanrock dashboard`."""
    board = sub.add_parser(
        "dashboard",
        help="explore a study's trials in optuna-dashboard: parallel coordinates, parameter importance, each "
        "trial's learning curve",
    )
    board.add_argument(
        "studies", nargs="?", help="HYPOTHESIS/DATASET.TASK, e.g. h1/iemocap.emotion (default: the only one there is)"
    )
    board.add_argument("--port", type=_whole(1, 65_535), default=8080, help="default 8080")
    board.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    board.set_defaults(func=_dashboard)


def _ablate(args: argparse.Namespace) -> None:
    import pandas as pd

    from hanrock_core.base.io import write_parquet_atomic
    from hanrock_core.comparison.ablation import NAMES, ablate, change_named, summary
    from hanrock_core.preparation.settings import load_settings
    from hanrock_core.study.profiles import load_profile

    settings = load_settings()
    if "." not in args.partition:
        raise InputError(f"{args.partition!r} is not DATASET.TASK", hint="e.g. emorynlp.emotion")
    names = [n.strip() for n in args.changes.split(",")] if args.changes is not None else list(NAMES)
    if not any(names):  # `--changes "$EMPTY"` is not "all of them": that would be hours of training asked by mistake
        raise InputError(
            "--changes names no change", hint=f"name one or more of {', '.join(NAMES)}, or leave --changes out for all"
        )
    if "" in names or len(set(names)) < len(names):
        raise InputError(
            f"--changes {args.changes!r} has an empty or repeated name", hint="e.g. --changes base,word2vec"
        )
    changes = [change_named(n) for n in names]
    runs = ablate(settings, args.partition, load_profile(args.profile), changes, args.seeds, log=print)
    if args.out:
        write_parquet_atomic(runs, args.out)
        print(f"wrote {args.out}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary(runs).round(4).to_string(index=False))


def _ablate_command(sub) -> None:
    """`hanrock ablate`."""
    from hanrock_core.comparison.ablation import NAMES

    abl = sub.add_parser("ablate", help="one change at a time to a profile's defaults, measured on dev over seeds")
    abl.add_argument("partition", help="DATASET.TASK of the settings, e.g. emorynlp.emotion")
    abl.add_argument("--profile", default="standard", help="the profile whose middle configuration is changed")
    abl.add_argument("--seeds", type=_whole(1, 100), default=3, help="seeds per change (default 3)")
    abl.add_argument("--changes", help=f"comma-separated, from: {', '.join(NAMES)} (default: all)")
    abl.add_argument("--out", type=Path, help="a parquet file for every run's row")
    abl.set_defaults(func=_ablate)


def _screenshot(args: argparse.Namespace) -> None:
    from hanrock_core.checks.browser import dump_dom, print_pdf, screenshot

    png = screenshot(args.page, args.png, args.width, args.height)
    print(f"screenshot: {png}")
    if args.pdf:
        print(f"printed: {print_pdf(args.page, args.pdf)}")
    dom = dump_dom(args.page)
    examples = dom.count('<section class="example"')
    print(f"rendered DOM: {len(dom):,} characters, {examples} report examples")


MAX_SEED = 2**32 - 1  # numpy's seeds
MAX_FPS = 10_000.0  # as the settings' openface_fps


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= MAX_FPS:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of at most {MAX_FPS:,.0f}")
    return value


def _whole(low: int, high: int):
    """An argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} must be between {low:,} and {high:,}")
        return value

    return parse


def _synth_command(sub) -> None:
    """`hanrock synth`."""
    synth = sub.add_parser("synth", help="write the embedded synthetic corpus in a raw layout")
    synth.add_argument("corpus", choices=SYNTHETIC_LAYOUTS)
    synth.add_argument("dir", type=Path, help="new or empty directory to write into")
    synth.add_argument("--scale", type=float, default=1.0, help="fraction of the paper's talkturn counts (0, 1]")
    synth.add_argument(
        "--seed", type=_whole(0, MAX_SEED), default=0, help="random seed; the same seed writes the same bytes"
    )
    synth.set_defaults(func=_synth)


def _load_command(sub) -> None:
    """`hanrock load`."""
    load = sub.add_parser("load", help="read a corpus into the talkturn table and summarise it")
    load.add_argument("corpus", choices=list(LAYOUTS))
    load.add_argument("root", type=Path, help="corpus root (byo: the folder the spec's file paths are relative to)")
    load.add_argument("--out", type=Path, help="write the talkturn table to this Parquet file")
    load.add_argument("--spec", type=Path, help="dataset spec YAML (byo only)")
    load.add_argument(
        "--splits",
        "--partitions",
        dest="splits",
        type=Path,
        help="split YAML: sessions under train / dev / test (default: the paper's Table 5; "
        "--partitions is its old name)",
    )
    load.add_argument("--openface", type=Path, help="folder of OpenFace CSVs (default: ROOT/preprocessing/openface)")
    load.add_argument("--vokaturi", type=Path, help="Vokaturi CSV (default: ROOT/preprocessing/vokaturi.csv)")
    load.add_argument(
        "--openface-fps",
        type=_positive_float,
        metavar="FPS",
        help="rebuild OpenFace timestamps as (frame - 1) / FPS (output of an image folder, -fdir)",
    )
    load.set_defaults(func=_load)


def _predict_command(sub) -> None:
    """`hanrock predict`."""
    predict = sub.add_parser(
        "predict",
        help="apply a kept model to talkturns: one row per talkturn with its prediction and class probabilities",
    )
    predict.add_argument(
        "model",
        help="kept model folder, or HYPOTHESIS/DATASET.TASK/CONDITION under "
        "$HANROCK_HOME/models (e.g. h1/iemocap.emotion/aphf)",
    )
    predict.add_argument(
        "input",
        type=Path,
        help="talkturn table (.parquet from `hanrock load`), a CSV of new "
        "conversations with --spec, or a corpus folder with --corpus / --spec",
    )
    predict.add_argument("--out", type=Path, required=True, help="predictions Parquet file to write")
    predict.add_argument("--corpus", choices=list(LAYOUTS), help="INPUT is a corpus folder in this layout")
    predict.add_argument(
        "--spec", type=Path, help="bring-your-own spec: INPUT is one file written in it, or its data root"
    )
    predict.add_argument("--splits", "--partitions", dest="splits", type=Path, help="split YAML of a corpus folder")
    predict.add_argument("--openface", type=Path, help="folder of OpenFace CSVs of a corpus folder")
    predict.add_argument("--vokaturi", type=Path, help="Vokaturi CSV of a corpus folder")
    predict.add_argument("--openface-fps", type=_positive_float, metavar="FPS", help="as for `hanrock load`")
    predict.add_argument(
        "--split",
        choices=["train", "dev", "test"],
        help="only the talkturns of this split (their context still comes from the table)",
    )
    predict.add_argument(
        "--attention",
        action="store_true",
        help="add each talkturn's window, talkturn and word attention levels (appendix A.5)",
    )
    predict.add_argument(
        "--ensemble",
        action="store_true",
        help="the model's seed ensemble: the selected trial and its seed replicates, probabilities averaged "
        "(what `hanrock results ensembles` reports)",
    )
    predict.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"), help="cpu (default), cuda or auto")
    predict.set_defaults(func=_predict)


def _config_command(sub) -> None:
    """`hanrock config`."""
    config = sub.add_parser("config", help="check the settings file, every dataset it declares and a study profile")
    config.add_argument("--file", type=Path, help="settings file (default: $HANROCK_CONFIG or ./hanrock.yaml)")
    config.add_argument("--profile", help="also check this study profile (quick, paper or a YAML file)")
    config.set_defaults(func=_config)


def _bench_command(sub) -> None:
    """`hanrock bench`."""
    bench = sub.add_parser("bench", help="training speed of the engine beside the plain reference step")
    bench.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="path of reference_hanrock.py (default: ../shared/bench/reference_hanrock.py; "
        "absent: the engine's figures only)",
    )
    bench.add_argument(
        "--steps", type=_whole(1, 10_000), default=8, help="timed optimisation steps at the reference shape"
    )
    bench.add_argument(
        "--epoch-talkturns", type=_whole(1, 1_000_000), default=5766, help="talkturns in the timed epochs"
    )
    bench.add_argument(
        "--compile",
        choices=["auto", "on", "off"],
        default="auto",
        help="torch.compile the attention kernel (auto: on CPU when it works)",
    )
    bench.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="where the engine and the reference step run (auto: CUDA when there is one)",
    )
    bench.add_argument(
        "--gru",
        choices=["both", "fused", "torch"],
        default="both",
        help="biGRU recurrences to measure (default both; the device's default is reported first)",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(func=_bench)


def _results_command(sub) -> None:
    """`hanrock results`."""
    results = sub.add_parser("results", help="print a results table or view (read-only)")
    results.add_argument(
        "view",
        nargs="?",
        default="table1_h1",
        choices=[
            "table1_h1",
            "table2_h2",
            "table3_h3",
            "table_h4_weighting",
            "table4_class_f1",
            "table7_best_hyperparameters",
            "results_long",
            "ensembles",
            "significance",
            "verdicts",
            "comparison_verdicts",
            "replicates",
            "views",
            "mutual_information",
            "affinity",
            "affinity_family",
            "trials",
            "health",
            "superseded",
            "identities",
        ],
        help="a paper table, results_long, significance (every method), verdicts (each comparison's answer on one "
        "line; comparison_verdicts: the same with numeric columns), replicates (every seed of each selected "
        "configuration, the selected trial as replicate 0), views (every view and what it holds), "
        "mutual_information, affinity (each auxiliary target's measured affinity with the primary task "
        "beside its MI rank; affinity_family: per family), trials (current "
        "studies), health (did each condition's trials learn, did its selected model finish "
        "learning, does it beat the floor), superseded (studies whose inputs changed since), identities (what each "
        "partition's current studies were trained on)",
    )
    results.add_argument("--dataset", help="only this dataset's rows (views with a dataset column)")
    results.add_argument("--db", type=Path, help="results file (default: $HANROCK_HOME/results.duckdb)")
    results.set_defaults(func=_results)


def _effects(text: str) -> tuple[float, ...]:
    """Comma-separated effects (`--planted 0.01,0.02,0.03`)."""
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None


def _calibrate_command(sub) -> None:
    """`hanrock calibrate`."""
    cal = sub.add_parser(
        "calibrate",
        help="run the complete H1 study several times and measure the printed verdicts: false-positive rate on "
        "A/A pairs of studies, power on planted effects",
    )
    cal.add_argument("partition", help="DATASET.TASK of the settings, e.g. iemocap.emotion")
    cal.add_argument("--profile", default="quick", help="the profile of every study (default quick)")
    cal.add_argument(
        "--studies", type=_whole(2, 100), default=8, help="complete studies, each with its own search seed (default 8)"
    )
    cal.add_argument("--challenger", help="only this H1 challenger besides none (default: every one the data has)")
    cal.add_argument(
        "--planted",
        type=_effects,
        default=(0.01, 0.02, 0.03),
        help="effects planted to measure power, comma-separated (default 0.01,0.02,0.03)",
    )
    cal.add_argument("--name", help="how the table names the corpus")
    cal.add_argument("--out", type=Path, help="folder for summary.parquet and verdicts.parquet")
    cal.set_defaults(func=_calibrate)


def _screenshot_command(sub) -> None:
    """`hanrock screenshot`."""
    shot = sub.add_parser("screenshot", help="render an HTML report in headless Chromium: PNG (and PDF) to look at")
    shot.add_argument(
        "page", type=Path, help="the HTML file, e.g. $HANROCK_HOME/reports/attention/iemocap.emotion.html"
    )
    shot.add_argument("--png", type=Path, default=Path("report.png"), help="screenshot file (default report.png)")
    shot.add_argument("--pdf", type=Path, help="also print the page to this PDF (the print style sheet)")
    shot.add_argument("--width", type=_whole(100, 10_000), default=1280)
    shot.add_argument("--height", type=_whole(100, 100_000), default=1800)
    shot.set_defaults(func=_screenshot)


def build_parser() -> argparse.ArgumentParser:
    """Every `hanrock` command: each one's arguments are declared by its own function above."""
    parser = argparse.ArgumentParser(prog="hanrock", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (
        _synth_command,
        _load_command,
        _predict_command,
        _config_command,
        _bench_command,
        _results_command,
        _calibrate_command,
        _ablate_command,
        _dashboard_command,
        _screenshot_command,
    ):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:  # what a command writes appears whole or not at all (io.py): nothing to clean up
        print("hanrock: interrupted; nothing partial was written", file=sys.stderr)
        return 130
    except InputError as exc:
        print(f"hanrock: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file the command itself writes or reads, named by the OS error
        print(f"hanrock: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
