"""Custom Kedro datasets: folders of movies, bundles of arrays, trained and registered
denoisers, MP4 previews."""

from fluxion.datasets.arrays import NpzDataset
from fluxion.datasets.models import TrainedModelDataset
from fluxion.datasets.movies import (
    FrameStream,
    MovieFileDataset,
    MovieFolderDataset,
    MovieLoader,
)
from fluxion.datasets.registry import (
    ChampionAliasDataset,
    MethodRunsDataset,
    RegisteredModelDataset,
    RunTagsDataset,
    VideoFolderDataset,
)

__all__ = [
    "ChampionAliasDataset",
    "FrameStream",
    "MethodRunsDataset",
    "MovieFileDataset",
    "MovieFolderDataset",
    "MovieLoader",
    "NpzDataset",
    "RegisteredModelDataset",
    "RunTagsDataset",
    "TrainedModelDataset",
    "VideoFolderDataset",
]
