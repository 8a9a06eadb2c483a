"""Per-movie training plans: which models on which movies, and the jobs run on a Dask cluster
give the models a run in this process gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fluxion.denoising.per_movie import TrainingPlan, run_jobs
from fluxion.movies.records import MovieRecord
from fluxion.movies.simulate import simulate_movie

COMMON = {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2, "crop": 32, "validation_crops": 2}
METHODS = {"udvd": {"method": "udvd", "architecture": {"width": 4, "triplet_channels": 4}},
           "n2n": {"method": "n2n", "architecture": {"width": 4, "depth": 2}}}


def _records(folder, names) -> dict[str, MovieRecord]:
    records = {}
    for seed, name in enumerate(names):
        np.save(folder / f"{name}.npy", simulate_movie(frames=30, size=64, dose=2.0,
                                                       particle_diameter_nm=1.0,
                                                       seed=seed).noisy)
        records[name] = MovieRecord.from_dict(name, {
            "copy": str(folder / f"{name}.npy"), "shape": [30, 64, 64],
            "splits": {"train": [0, 14], "validation": [18, 21], "test": [25, 30]},
            "summary": {"noise_gain": 1.0}})
    return records


def _plan(tmp_path, **changes) -> TrainingPlan:
    return TrainingPlan.from_params({"method": "udvd", "compare": ["n2n"],
                                     "checkpoint_folder": str(tmp_path / "ckpt"),
                                     "common": COMMON, "methods": METHODS, **changes})


def test_the_plan_trains_the_movie_method_everywhere_and_baselines_where_asked(tmp_path):
    records = {name: None for name in ("a", "b", "c")}
    for which, expected in ((None, [2, 2, 2]), (1, [2, 1, 1]), (["c"], [1, 1, 2])):
        plan = _plan(tmp_path, compare_movies=which)
        counts = [len(plan.methods_for(i, name)) for i, name in enumerate(records)]
        assert counts == expected


@pytest.mark.slow
def test_jobs_on_a_dask_cluster_match_jobs_in_this_process(tmp_path):
    from dask.distributed import LocalCluster

    records = _records(tmp_path, ["a", "b"])
    here = {r.movie: r for r in run_jobs(_plan(tmp_path / "here", compare=[]).jobs(records, None))}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        jobs = _plan(tmp_path / "dask", compare=[]).jobs(records, None)
        there = {r.movie: r for r in run_jobs(jobs, dask_scheduler=cluster.scheduler_address)}
    assert set(here) == set(there) == {"a", "b"}
    for movie in here:
        for key, value in here[movie].model.state_dict().items():
            torch.testing.assert_close(there[movie].model.state_dict()[key], value)
