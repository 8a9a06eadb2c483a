"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

CONFIG_LOADER_CLASS = OmegaConfigLoader
# `conf/gpu` overrides single keys (e.g. training.epochs) and keeps the rest of conf/base.
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "merge_strategy": {"parameters": "soft"},
}

from fluxion.hooks import EnvironmentCheckHook, ReanalysisLockHook, RunLabelsHook  # noqa: E402

HOOKS = (EnvironmentCheckHook(), ReanalysisLockHook(), RunLabelsHook())
