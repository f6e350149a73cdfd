"""A timed screenshot tour of the Dagster UI: `python -m hanrock_assets.ui_tour --out DIR` (`make ui-shots`).

After `make demo`: starts `dagster dev` on a free port of this machine on the persistent instance
(`$DAGSTER_HOME`), renders the pages a researcher opens first (`pages.tour`) in headless Chromium,
writes a PNG of each and prints the seconds each took beside the browser's own start-up.  The
end-to-end UI test uses the same server and browser helpers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from .code_location import LOCATION_NAME, MODULE
from .pages import tour

WIDTH, HEIGHT = 1600, 1200  # a large laptop screen: the answer must fit it without scrolling sideways
SMALL = (1280, 800)  # a small laptop screen: the answer pages are rendered at this size too
WAIT_MS = 20_000  # Chromium's virtual-time budget: the UI's GraphQL answers arrive well within it


def free_port() -> int:
    """A TCP port nothing on this machine listens on now."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


LOCATION_JOBS = "{ repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name } } } } }"


def wait_for_location(port: int, deadline: float, job: str = "main_job") -> None:
    """Block until the webserver on `port` has loaded the code location (it lists `job`)."""
    while time.time() < deadline:
        try:
            reply = requests.post(f"http://localhost:{port}/graphql", json={"query": LOCATION_JOBS}, timeout=5).json()
            nodes = reply["data"]["repositoriesOrError"].get("nodes") or []
            if any(entry["name"] == job for node in nodes for entry in node["jobs"]):
                return
        except (requests.RequestException, KeyError, ValueError, TypeError):
            pass
        time.sleep(1)
    raise TimeoutError(f"the Dagster webserver on port {port} did not load the code location in time")


def workspace_file(folder: Path) -> Path:
    """A workspace.yaml loading the installed package under the platform's location name."""
    path = folder / "workspace.yaml"
    path.write_text(
        f"load_from:\n  - python_module:\n      module_name: {MODULE}\n      location_name: {LOCATION_NAME}\n"
    )
    return path


@contextlib.contextmanager
def webserver(
    port: int, log: Path, env: dict[str, str] | None = None, timeout: float = 180, module: bool = False
) -> Iterator[str]:
    """`dagster dev` on `port` for the duration of the block (stopped, with its daemon, afterwards);
    yields its base address once the code location has loaded.  It loads the platform as `make ui`
    does (a workspace file), or with `module` as Dagster's usual `dagster dev -m hanrock_assets`."""
    dagster = str(Path(sys.executable).parent / "dagster")
    with tempfile.TemporaryDirectory(prefix="hanrock-ui-") as folder, log.open("w") as out:
        load = ["-m", MODULE] if module else ["-w", str(workspace_file(Path(folder)))]
        server = subprocess.Popen(
            [dagster, "dev", *load, "-p", str(port)],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_location(port, time.time() + timeout)
            yield f"http://localhost:{port}"
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def shoot(
    base: str, pages: list[tuple[str, str]], out: Path, size: tuple[int, int] = (WIDTH, HEIGHT)
) -> list[tuple[str, Path, float]]:
    """A PNG of each page at `size` and the wall-clock seconds Chromium took to load and render it."""
    from hanrock_core.checks.browser import screenshot

    shots = []
    suffix = "" if size == (WIDTH, HEIGHT) else f"-{size[0]}x{size[1]}"
    for stem, address in pages:
        start = time.perf_counter()
        png = screenshot(base + address, out / f"{stem}{suffix}.png", *size, wait_ms=WAIT_MS)
        shots.append((base + address, png, time.perf_counter() - start))
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hanrock_assets.ui_tour", description=__doc__.split("\n\n")[0].replace("\n", " ")
    )
    parser.add_argument("--out", type=Path, default=Path(".hanrock/ui-shots"), help="folder for the PNGs")
    parser.add_argument("--hypothesis", default="h1", choices=["h1", "h2", "h3", "h4"])
    parser.add_argument("--partition", default="iemocap.emotion", help="the dataset.task whose trials page to show")
    parser.add_argument("--port", type=int, help="a free port (default: one chosen now)")
    args = parser.parse_args(argv)
    if not os.environ.get("DAGSTER_HOME"):
        print(
            "hanrock: error: DAGSTER_HOME is not set -> run `make ui-shots`, or "
            'eval "$(.venv/bin/python -m hanrock_assets.instance)" first',
            file=sys.stderr,
        )
        return 2
    from hanrock_core.base.errors import InputError

    args.out.mkdir(parents=True, exist_ok=True)
    port = args.port or free_port()
    try:
        with webserver(port, args.out / "dagster-dev.log") as base:
            with tempfile.TemporaryDirectory() as scratch:  # the browser's own start-up, for comparison
                [(_, _, seconds)] = shoot(base, [("static", "/favicon.svg")], Path(scratch))
            print(f"{seconds:5.1f} s  browser start-up and one static file (part of every figure below)")
            pages = tour(args.hypothesis, args.partition)
            answers = [(stem, address) for stem, address in pages if "_significance" in address]
            for address, png, seconds in shoot(base, pages, args.out) + shoot(base, answers, args.out, SMALL):
                print(f"{seconds:5.1f} s  {address}  ->  {png}")
    except (InputError, TimeoutError) as exc:
        print(f"hanrock: error: {exc} (the server's log: {args.out / 'dagster-dev.log'})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
