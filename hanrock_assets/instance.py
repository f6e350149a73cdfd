"""The platform's persistent Dagster instance: `python -m hanrock_assets.instance [DIR]`.

Creates DIR (default `$DAGSTER_HOME`, else `$HANROCK_HOME/dagster`, else `./.hanrock/dagster`)
with the platform's `dagster.yaml` if it has none, and prints the `export DAGSTER_HOME=...` line
to use it: every `dagster` command and the UI then share one run history and asset catalog.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

from hanrock_core.base.deployment import read_deployment


def default_dagster_home() -> Path:
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    return Path(read_deployment().home or ".hanrock") / "dagster"


def ensure_dagster_home(path: str | Path | None = None) -> Path:
    """The instance directory with the shipped dagster.yaml: written when missing, brought up to date when
    it is one an earlier version of the platform wrote (its first line is ours); a user's own file is kept."""
    home = Path(path or default_dagster_home()).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    text = resources.files("hanrock_assets").joinpath("dagster.yaml").read_text(encoding="utf-8")
    current = config.read_text(encoding="utf-8") if config.exists() else None
    ours = current is not None and current.splitlines()[:1] == text.splitlines()[:1]
    if current is None or (ours and current != text):
        tmp = home / f".dagster.yaml.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(config)
    return home


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python -m hanrock_assets.instance [DAGSTER_HOME]", file=sys.stderr)
        return 2
    try:
        home = ensure_dagster_home(args[0] if args else None)
    except OSError as exc:
        print(
            f"hanrock: error: cannot create the Dagster instance directory: {exc}\n"
            "  -> set DAGSTER_HOME (or HANROCK_HOME) to a writable directory",
            file=sys.stderr,
        )
        return 2
    print(f"export DAGSTER_HOME={home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
