"""Screenshots of what a user sees after a run: the MLflow runs table, Compare of one movie's
evaluation runs, and the kedro-viz flowchart with the figures hidden.

    .venv/bin/python tools/screenshots.py [--project .] [--out docs/screenshots]

Starts the MLflow UI and kedro-viz on loopback, takes the pictures with headless Chromium (the
Debian package ``chromium``; without it the script says so and stops the servers) and stops
them. Run it in a project folder after ``kedro run`` (``make run``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

import mlflow

BIN = Path(sys.executable).parent
MLFLOW_PORT, VIZ_PORT = 5055, 4155
WINDOW = "1600,1000"
MLFLOW_PANELS = ('[data-component-id="mlflow.assistant.chat_panel.close"]',)
KEDRO_VIZ_BANNERS = (".update-reminder-unexpanded .buttons-container button:last-child",)


@contextmanager
def server(command: list[str], url: str, cwd: Path, wait_s: float = 120.0):
    """A server process, up once ``url`` answers; stopped on exit with the processes it
    started (kedro-viz serves from a child process)."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start ({url})") from None
                time.sleep(1)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def screenshot_with_storage(browser: str, url: str, path: Path, storage: dict[str, str],
                            wait_s: float = 12.0, dismiss: tuple[str, ...] = ()) -> Path:
    """``url`` with ``localStorage`` entries set first (kedro-viz keeps its settings there: no
    feature-hint pop-ups over the flowchart), through the DevTools protocol; then the elements
    matching the CSS selectors ``dismiss`` are clicked (MLflow's assistant panel, kedro-viz's
    update banner, which offline says "Kedro-Viz None is here!")."""
    from websockets.sync.client import connect

    port = 9333
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu",
                                    "--hide-scrollbars", f"--window-size={WINDOW}",
                                    f"--remote-debugging-port={port}",
                                    f"--user-data-dir={profile}", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(60):
                try:
                    pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
                    break
                except OSError:
                    time.sleep(0.5)
            page = next(p for p in pages if p["type"] == "page")
            with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
                calls = iter(range(1, 1000))

                def call(method: str, **params) -> dict:
                    number = next(calls)
                    socket.send(json.dumps({"id": number, "method": method, "params": params}))
                    while True:
                        answer = json.loads(socket.recv())
                        if answer.get("id") == number:
                            return answer.get("result", {})

                call("Page.navigate", url=url)
                time.sleep(wait_s / 2)
                script = "".join(f"localStorage.setItem({json.dumps(k)}, {json.dumps(v)});"
                                 for k, v in storage.items())
                call("Runtime.evaluate", expression=script)
                call("Page.reload")
                time.sleep(wait_s)
                for selector in dismiss:  # panels and banners over the page
                    call("Runtime.evaluate", expression=(
                        f"document.querySelectorAll({json.dumps(selector)})"
                        ".forEach(e => e.click());"))
                time.sleep(1)
                data = call("Page.captureScreenshot", format="png")["data"]
        finally:
            process.terminate()
            process.wait(timeout=30)
    path.write_bytes(base64.b64decode(data))
    return path


def mlflow_pages(project: Path) -> dict[str, str]:
    """The runs table of the ``fluxion`` experiment and Compare of one movie's evaluation runs
    from the newest Kedro run."""
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("fluxion")
    if experiment is None:
        raise SystemExit(f"{project}: no `fluxion` experiment; run `kedro run` there first.")
    runs = client.search_runs([experiment.experiment_id],
                              filter_string="tags.`fluxion.kind` = 'evaluate'",
                              order_by=["attributes.start_time DESC"])
    newest = [r for r in runs  # the evaluation runs of the newest Kedro run, by movie
              if r.data.tags.get("mlflow.parentRunId")
              == runs[0].data.tags.get("mlflow.parentRunId")]
    by_movie: dict[str, list[str]] = {}
    for run in newest:
        by_movie.setdefault(run.data.tags.get("movie", ""), []).append(run.info.run_id)
    ids = max(by_movie.values(), key=len, default=[])  # the movie with the most methods
    base = f"http://127.0.0.1:{MLFLOW_PORT}/#"
    pages = {"mlflow_runs": f"{base}/experiments/{experiment.experiment_id}/runs"}
    if ids:
        pages["mlflow_compare"] = (f"{base}/compare-runs?runs={json.dumps(ids)}"
                                   f"&experiments={json.dumps([experiment.experiment_id])}")
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    project = args.project.resolve()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("headless Chromium is not installed (Debian: apt install chromium); "
                         "no screenshots taken.")
    args.out.mkdir(parents=True, exist_ok=True)
    pages = mlflow_pages(project)
    viz = f"http://127.0.0.1:{VIZ_PORT}/?pid=__default__&types=nodes&tags=data-flow"
    with ExitStack() as stack:
        stack.enter_context(server(
            [str(BIN / "mlflow"), "ui", "--backend-store-uri",
             f"sqlite:///{project}/mlruns/mlflow.db", "--host", "127.0.0.1", "--port",
             str(MLFLOW_PORT)], f"http://127.0.0.1:{MLFLOW_PORT}/", project))
        stack.enter_context(server(
            [str(BIN / "kedro"), "viz", "run", "--host", "127.0.0.1", "--port", str(VIZ_PORT),
             "--no-browser"], f"http://127.0.0.1:{VIZ_PORT}/", project))
        for name, url in pages.items():
            print(screenshot_with_storage(browser, url, (args.out / f"{name}.png").resolve(),
                                          {}, dismiss=MLFLOW_PANELS))
        print(screenshot_with_storage(browser, viz, (args.out / "kedro_viz.png").resolve(),
                                      {"KedroViz": json.dumps({"flags": {},
                                                               "showFeatureHints": False})},
                                      dismiss=KEDRO_VIZ_BANNERS))


if __name__ == "__main__":
    main()
