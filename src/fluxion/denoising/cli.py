"""``python -m fluxion.training``: train one denoiser from the command line.

Under torchrun Lightning finds the launcher's processes and trains with DDP across them (NCCL on
GPUs, gloo on CPUs)::

    torchrun --nproc_per_node=4 -m fluxion.training --movie data/02_intermediate/movies/m.npy \\
        --splits '{"train": [0, 400], "validation": [404, 600]}' --config training.yml \\
        --checkpoint-dir data/06_models/checkpoints/udvd --output data/06_models/udvd.pt
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import yaml

from fluxion.denoising.models.checkpoint import save_denoiser
from fluxion.denoising.training import TrainingConfig, train_denoiser
from fluxion.movies.io import read_movie


def main(argv: list[str] | None = None) -> None:
    """Train one denoiser; print each rank's weight checksum; rank 0 writes the model."""
    parser = argparse.ArgumentParser(prog="python -m fluxion.training", description=main.__doc__)
    parser.add_argument("--movie", required=True, help="a validated movie (e.g. .npy copy)")
    parser.add_argument("--splits", required=True, help='JSON: {"train": [a, b], '
                        '"validation": [c, d]}')
    parser.add_argument("--config", required=True, help="YAML file of TrainingConfig keys")
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--output", required=True, help="where rank 0 writes the best model")
    args = parser.parse_args(argv)
    config = TrainingConfig.from_dict(yaml.safe_load(Path(args.config).read_text()) or {})
    result = train_denoiser(read_movie(args.movie, lazy=True), splits=json.loads(args.splits),
                            config=config, checkpoint_dir=args.checkpoint_dir,
                            movie_name=Path(args.movie).stem)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    checksum = sum(float(p.detach().double().sum()) for p in result.model.parameters())
    print(f"rank {rank} of {world}: best epoch {result.best_epoch}, "
          f"weights checksum {checksum:.10e}", flush=True)
    if rank == 0:
        save_denoiser(args.output, result.model, history=result.history,
                      summary=result.summary())


if __name__ == "__main__":
    main()
