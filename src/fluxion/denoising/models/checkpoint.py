"""Trained denoisers on disk: the spec to rebuild the network, its weights and a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fluxion.denoising.models import Denoiser, build_model
from fluxion.errors import CheckpointError, ModelNotFoundError


def save_denoiser(path: str | Path, model: Denoiser, **extra: Any) -> Path:
    """Write ``{spec, state_dict, **extra}`` atomically (extra: plain data such as history)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save({"spec": model.spec, "state_dict": model.state_dict(), **extra}, partial)
    partial.replace(path)
    return path


def load_denoiser(path: str | Path) -> tuple[Denoiser, dict[str, Any]]:
    """Rebuild a saved denoiser (eval mode, CPU); returns it and the extra data saved with it."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: no trained model here; run `kedro run --pipeline "
                                 "training` first.")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        model = build_model(saved["spec"]["method"], **saved["spec"]["architecture"])
        model.load_state_dict(saved["state_dict"])
    except Exception as error:  # torch raises RuntimeError, EOFError, pickle errors ...
        raise CheckpointError(f"{path}: not a readable Fluxion model file ({error}); train it "
                              "again (delete the file).") from error
    extra = {k: v for k, v in saved.items() if k not in ("spec", "state_dict")}
    return model.eval(), extra
