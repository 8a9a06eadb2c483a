"""MLflow: a trained model's run, registry round trip by alias at another frame size."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
import torch

from fluxion.datasets import TrainedModelDataset
from fluxion.denoising.models import UDVD
from fluxion.denoising.training import TrainingConfig, TrainingResult
from fluxion.tracking import (
    RegisteredModelNotFoundError,
    load_registered_model,
    log_trained_model,
    set_alias,
)


def tiny_result() -> TrainingResult:
    torch.manual_seed(0)
    model = UDVD(width=4, triplet_channels=4)
    model.set_count_scale(2.0, 1.5)
    history = [{"epoch": e, "train_loss": 2.0 - e / 10, "val_loss": 2.1 - e / 10,
                "learning_rate": 1e-3, "seconds": 1.0} for e in range(3)]
    config = TrainingConfig(method="udvd", architecture={"width": 4, "triplet_channels": 4})
    return TrainingResult(model.eval(), config, history, 2, 1.9, 2.0, "demo_small", False)


@pytest.mark.slow
def test_register_load_by_alias_and_predict_at_another_size(tracking):
    result = tiny_result()
    version = log_trained_model(result, registered_model_name="fluxion-udvd")
    assert version == "1"
    set_alias("fluxion-udvd", version, "champion")
    loaded = load_registered_model("fluxion-udvd")  # by alias `champion`
    x = torch.rand(2, 5, 48, 40) * 4  # the input example was 32 x 32
    assert torch.allclose(loaded(x), result.model(x))
    pyfunc = mlflow.pyfunc.load_model("models:/fluxion-udvd@champion")
    out = pyfunc.predict(x.numpy()[:1])
    np.testing.assert_allclose(np.asarray(out), result.model(x[:1]).detach().numpy(), rtol=1e-5,
                               atol=1e-5)
    [run] = tracking.search_runs([tracking.get_experiment_by_name("test").experiment_id])
    assert run.data.params["architecture.width"] == "4" and run.data.params["movie"] == \
        "demo_small"
    assert [m.value for m in tracking.get_metric_history(run.info.run_id, "val_loss")] == \
        pytest.approx([2.1, 2.0, 1.9])


def test_missing_alias_or_model_is_a_clear_error(tracking):
    with pytest.raises(RegisteredModelNotFoundError, match="no registered model 'fluxion-n2n' "
                       "with alias 'champion'") as info:
        load_registered_model("fluxion-n2n")
    assert isinstance(info.value, FileNotFoundError) and "kedro run --pipeline" in str(info.value)


@pytest.mark.slow
def test_trained_model_dataset_writes_a_file_and_a_nested_run(tracking, tmp_path):
    dataset = TrainedModelDataset(filepath=str(tmp_path / "udvd.pt"),
                                  registered_model_name="fluxion-udvd", run_name="udvd")
    result = tiny_result()
    with mlflow.start_run(run_name="kedro run"):
        dataset.save(result)
    x = torch.rand(1, 5, 20, 28)
    assert torch.equal(dataset.load()(x), result.model(x))
    runs = tracking.search_runs([tracking.get_experiment_by_name("test").experiment_id])
    child = next(r for r in runs if r.info.run_name == "udvd")
    assert child.data.tags["mlflow.parentRunId"] != child.info.run_id
    artifacts = [a.path for a in tracking.list_artifacts(child.info.run_id, "checkpoint")]
    assert artifacts == ["checkpoint/udvd.pt"]
    assert tracking.get_registered_model("fluxion-udvd").name == "fluxion-udvd"


@pytest.mark.slow
def test_an_unchanged_model_is_registered_once_and_a_changed_movie_again(tracking, tmp_path):
    dataset = TrainedModelDataset(filepath=str(tmp_path / "udvd.pt"), method="udvd")
    result = tiny_result()
    result.identity = {"config": {"method": "udvd"}, "movie_sha256": "a" * 64}
    for _ in range(2):  # a rerun with the same movie, settings and splits
        with mlflow.start_run(run_name="kedro run"):
            dataset.save(result)
    versions = tracking.search_model_versions("name='fluxion-udvd'")
    assert len(versions) == 1
    result.identity = {**result.identity, "movie_sha256": "b" * 64}
    with mlflow.start_run(run_name="kedro run"):
        dataset.save(result)
    assert len(tracking.search_model_versions("name='fluxion-udvd'")) == 2
