"""fluxion.denoising.methods: one registry that the pipelines and datasets read."""

from __future__ import annotations

import pytest
import torch

from fluxion.datasets import RegisteredModelDataset, TrainedModelDataset
from fluxion.denoising.methods import (
    METHODS,
    build_model,
    method,
    registered_model_names,
    trainable_methods,
)
from fluxion.denoising.per_movie import TrainingPlan
from fluxion.errors import ParameterError


def test_names_keys_and_registered_names_are_unique_and_consistent():
    assert [m.name for m in METHODS.values()] == list(METHODS)
    assert len({m.key for m in METHODS.values()}) == len(METHODS)
    assert registered_model_names() == ["fluxion-udvd", "fluxion-udvd-single", "fluxion-n2n"]
    assert method("udvd_single") is method("udvd-single") is METHODS["udvd-single"]
    assert [m.name for m in trainable_methods()] == ["udvd", "udvd-single", "n2n"]


def test_built_networks_follow_the_registry():
    single = build_model("udvd-single", width=4, frames=5)  # the variant fixes one frame
    assert single.frames == 1 and single.method == "udvd-single"
    assert build_model("udvd", width=4, triplet_channels=4).frames == 5
    out = build_model("gaussian", sigma=1.0)(torch.ones(1, 1, 8, 8))
    assert torch.allclose(out, torch.ones(1, 1, 8, 8))
    with pytest.raises(ParameterError, match="unknown denoising method 'bm3d'"):
        build_model("bm3d")
    with pytest.raises(ParameterError, match="bad architecture parameters"):
        build_model("n2n", colour=3)


def test_plans_and_datasets_read_the_registry(tmp_path):
    methods = {m.key: {"method": m.name} for m in trainable_methods()}
    plan = TrainingPlan.from_params({"method": "udvd", "compare": ["udvd_single", "n2n"],
                                     "methods": methods})
    assert plan.compare == ("udvd-single", "n2n")  # keys or names, as users type them
    assert set(plan.configs) == {m.name for m in trainable_methods()}
    dataset = TrainedModelDataset(filepath=str(tmp_path / "m.pt"), method="udvd_single")
    assert dataset._describe()["registered_model_name"] == "fluxion-udvd-single"
    assert RegisteredModelDataset()._describe()["names"] == registered_model_names()
