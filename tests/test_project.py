"""The Kedro project as a user drives it: `kedro run`, `kedro registry list`, `kedro viz build`,
with MLflow tracking into the project's SQLite store. Runs in a scratch copy of the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fluxion.errors import ParameterError

REPO = Path(__file__).resolve().parents[1]
KEDRO = str(Path(sys.executable).with_name("kedro"))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A scratch copy of the project (conf, pyproject, src, empty data and mlruns)."""
    root = tmp_path_factory.mktemp("fluxion_project")
    shutil.copytree(REPO / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    shutil.copy(REPO / "pyproject.toml", root)
    shutil.copytree(REPO / "src", root / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for folder in REPO.glob("data/*/"):
        (root / "data" / folder.name).mkdir(parents=True)
    (root / "data" / "01_raw" / "movies").mkdir()
    (root / "mlruns").mkdir()
    return root


def kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
           "MPLBACKEND": "Agg"}
    result = subprocess.run([KEDRO, *args], cwd=project, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_the_gpu_environment_overrides_single_keys(project):
    """`--env gpu` is paper scale: its keys replace base's, the rest of base is kept."""
    script = ("from kedro.framework.session import KedroSession\n"
              "from kedro.framework.startup import bootstrap_project\n"
              "bootstrap_project('.')\n"
              "with KedroSession.create(env='gpu') as session:\n"
              "    p = session.load_context().params\n"
              "    print(p['training']['common']['epochs'], p['training']['common']['lr_factor'],"
              " p['demo']['defaults']['dose'], p['demo']['defaults']['noise_correlation'],"
              " p['ingestion']['splits']['test_frames'])\n")
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    out = subprocess.run([sys.executable, "-c", script], cwd=project, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out[-5:] == ["500", "0.5", "0.2", "0.01", "150"]


def test_registry_lists_the_pipelines(project):
    listed = kedro(project, "registry", "list").stdout
    for name in ("__default__", "ingestion", "training", "denoise", "evaluation",
                 "diagnostics", "topology"):
        assert f"- {name}" in listed


TINY = ",".join([
    "training.common.epochs=1", "training.common.steps_per_epoch=2",
    "training.common.validation_crops=2", "training.common.crop=32",
    "training.methods.udvd.architecture.width=4",
    "training.methods.udvd.architecture.triplet_channels=4",
    "training.methods.udvd_single.architecture.width=4",
    "training.methods.n2n.architecture.width=4", "evaluation.bootstrap=100",
])


def test_the_whole_story_runs_and_is_tracked(project):
    """`make run`: a demo movie dropped into the incoming folder, then every pipeline in
    order on the demo, with tiny networks."""
    subprocess.run([sys.executable, "-m", "fluxion.simulate", "--incoming",
                    str(project / "data/01_raw/incoming"), "--frames", "30"], check=True)
    kedro(project, "run", "--params", TINY)
    [report] = (project / "data/08_reporting/reanalysis/runs/run.json").glob("*/run.json")
    reanalysed = json.loads(report.read_text())
    assert len(reanalysed["processed"]) == 1 and reanalysed["skipped"] == {}
    raw = sorted(p.relative_to(project) for p in (project / "data/01_raw").rglob("*"))
    subprocess.run([sys.executable, "-m", "fluxion.simulate", "--incoming",  # make run, again
                    str(project / "data/01_raw/incoming"), "--frames", "30"], check=True)
    kedro(project, "run", "--pipelines", "ingestion,reanalysis", "--params", TINY)
    assert sorted(p.relative_to(project) for p in (project / "data/01_raw").rglob("*")) == raw
    reports = sorted((project / "data/08_reporting/reanalysis/runs/run.json").glob("*/run.json"))
    assert len(reports) == 2 and json.loads(reports[-1].read_text())["processed"] == []
    assert len(list((project / "data/08_reporting/reanalysis/frames").glob("*.parquet"))) == 1
    summary = (project / "data/08_reporting/ingestion_summary.csv").read_text()
    assert summary.count("demo_") == 3
    assert (project / "data/08_reporting/ingestion/demo_large.png").stat().st_size > 10_000
    for movie in ("demo_small", "demo_medium", "demo_large"):
        assert (project / f"data/07_model_output/denoised/{movie}.tif").is_file()
        assert (project / f"data/07_model_output/previews/{movie}.mp4").is_file()
        assert (project / f"data/08_reporting/figures/frame_sum/{movie}.png").is_file()
        assert (project / f"data/08_reporting/figures/alps_timeline/{movie}.png").is_file()
        assert (project / f"data/08_reporting/training_curves/{movie}.png").is_file()
        assert (project / f"data/06_models/movies/{movie}/udvd.pt").is_file()
    assert (project / "data/08_reporting/topology/size_dependence.png").is_file()
    comparison = (project / "data/08_reporting/evaluation/method_comparison.csv").read_text()
    assert comparison.startswith("movie,method,reference,region,upsnr,")
    assert ",denoiser,model_version,selected,gate_passed," in comparison.splitlines()[0]
    assert all(m in comparison for m in ("udvd", "udvd-single", "n2n", "gaussian"))
    report = json.loads((project / "data/07_model_output/denoise_report.json").read_text())
    assert set(report["movies"]) == {"demo_small", "demo_medium", "demo_large"}
    for entry in report["movies"].values():
        assert {"name", "version", "gate_passed"} <= set(entry)

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project}/mlruns/mlflow.db")
    names = {m.name for m in client.search_registered_models()}
    assert names == {"fluxion-udvd", "fluxion-udvd-single", "fluxion-n2n"}
    versions = client.search_model_versions("name='fluxion-udvd'")
    assert {v.tags["movie"] for v in versions} >= {"demo_small", "demo_medium", "demo_large"}
    for movie, entry in report["movies"].items():  # the registry agrees with the report
        selected = [v for v in versions if f"selected-{movie}" in v.aliases]
        assert [v.version for v in selected] == ([entry["version"]] if entry["gate_passed"]
                                                 else [])
    experiment = client.get_experiment_by_name("fluxion")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # not GenAI
    every_run = client.search_runs([experiment.experiment_id])
    assert all(np.isfinite(v) and abs(v) <= 1e6 for r in every_run
               for v in r.data.metrics.values())
    runs = {r.info.run_name: r for r in every_run}
    assert {"train demo_small udvd", "train demo_large udvd", "train demo_small n2n",
            "evaluate demo_small udvd", "evaluate demo_small gaussian"} <= set(runs)
    assert "train demo_large n2n" not in runs  # base compares the baselines on one movie
    assert runs["train demo_small udvd"].data.params["architecture.width"] == "4"
    assert "val_loss" in runs["train demo_small n2n"].data.metrics
    assert set(runs["evaluate demo_small udvd"].data.metrics) == \
        set(runs["evaluate demo_small gaussian"].data.metrics)
    for run in every_run:
        if run.data.tags.get("fluxion.kind") == "evaluate":
            assert {"movie", "method", "rank", "selected", "gate_passed",
                    "gate_reason"} <= set(run.data.tags)
            assert client.list_artifacts(run.info.run_id)
    for version in versions:
        if any(alias.startswith("selected-") for alias in version.aliases):
            assert version.description.startswith("Selected for movie")
    [parent] = [r for r in every_run if r.info.run_name.startswith("kedro run ")
                and r.info.run_name.endswith(" all pipelines")]
    for path in _artifact_paths(client, parent.info.run_id):
        folders = path.split("/")[:-1]
        assert len(folders) == len(set(folders)), path
    assert parent.data.params["ingestion.splits.window"] == "5"
    assert parent.data.metrics["ingestion.demo_small.vacuum_snr"] == pytest.approx(1.44,
                                                                                  abs=0.05)
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "ingestion")}
    assert "ingestion/ingestion_summary.csv" in artifacts


def _artifact_paths(client, run_id: str, folder: str | None = None) -> list[str]:
    paths = []
    for entry in client.list_artifacts(run_id, folder):
        paths += _artifact_paths(client, run_id, entry.path) if entry.is_dir else [entry.path]
    return paths


def test_evaluation_alone_gives_the_same_verdicts_and_at_most_one_champion(project):
    verdicts = project / "data/08_reporting/evaluation/gate_verdicts.json"
    before = json.loads(verdicts.read_text())
    kedro(project, "run", "--pipeline", "evaluation", "--params", "evaluation.bootstrap=100")
    assert json.loads(verdicts.read_text()) == before
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project}/mlruns/mlflow.db")
    holders = [(m.name, m.aliases["champion"]) for m in client.search_registered_models()
               if "champion" in m.aliases]
    assert len(holders) <= 1  # none when no model passed its gate (tiny networks)
    passed = {(v["name"], v["version"]) for v in before.values() if v["gate_passed"]}
    assert all(holder in passed for holder in holders)


def test_the_notebook_runs_on_the_demo_results(project):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(REPO / "notebooks" / "walkthrough.ipynb", as_version=4)
    (project / "notebooks").mkdir(exist_ok=True)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(project / "notebooks")}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum(o.output_type == "display_data" for o in outputs) >= 4  # figures were drawn


def test_kedro_airflow_creates_a_dag(project):
    kedro(project, "airflow", "create", "--pipelines", "reanalysis", "--group-by", "namespace")
    [dag] = (project / "airflow_dags").glob("*.py")
    text = dag.read_text()
    compile(text, str(dag), "exec")  # valid Python
    assert ("@dag" in text or "DAG(" in text) and '"reanalysis"' in text


def test_viz_build_writes_a_static_site(project):
    kedro(project, "viz", "build")
    assert (project / "build" / "index.html").is_file()


def _serves(command: list[str], url: str, project: Path, *, wait_s: float = 240) -> bool:
    """Start a server in its own process group, wait for ``url`` to answer, stop the group.

    kedro viz spawns its server and first asks PyPI for a newer version (30 s time-out), so it
    can take a while on a busy machine; a server that exits fails the test at once.
    """
    import contextlib
    import signal
    import time
    import urllib.request

    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}
    server = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=20) as response:
                    return response.status == 200
            except OSError:
                time.sleep(1)
        return False
    finally:
        with contextlib.suppress(ProcessLookupError):  # the group may have exited already
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _free_port(first: int) -> int:
    """A loopback port at or after ``first`` that nothing listens on, below the ephemeral range
    (kedro viz refuses ports it cannot confirm as free, which an ephemeral one may not be)."""
    import socket

    for port in range(first, first + 200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port in {first}..{first + 199}")


def test_mlflow_ui_and_kedro_viz_start(project):
    port = _free_port(45100)
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    assert _serves([mlflow, "ui", "--backend-store-uri", "sqlite:///mlruns/mlflow.db",
                    "--host", "127.0.0.1", "--port", str(port)],
                   f"http://127.0.0.1:{port}/", project)
    port = _free_port(45400)
    assert _serves([KEDRO, "viz", "run", "--host", "127.0.0.1", "--port", str(port),
                    "--no-browser"], f"http://127.0.0.1:{port}/", project)


def test_a_pipeline_or_environment_that_does_not_exist_is_a_clear_error(tmp_path, monkeypatch):
    import fluxion.pipeline_registry as registry
    from fluxion.hooks import EnvironmentCheckHook

    def missing(**kwargs):
        raise ImportError("An error occurred while importing the 'fluxion.pipelines.nope' "
                          "module.")

    monkeypatch.setattr(registry, "find_pipelines", missing)
    with pytest.raises(ParameterError, match=r"no pipeline named nope; the pipelines are "
                       r"denoise, diagnostics, evaluation, ingestion, reanalysis"):
        registry.register_pipelines()
    (tmp_path / "base").mkdir()
    context = SimpleNamespace(config_loader=SimpleNamespace(conf_source=str(tmp_path)),
                              env="nope")
    with pytest.raises(ParameterError, match=r"--env nope: there is no configuration folder"):
        EnvironmentCheckHook().after_context_created(context)
    context.env = "base"
    EnvironmentCheckHook().after_context_created(context)  # an existing one passes
