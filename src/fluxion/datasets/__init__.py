"""Custom Kedro datasets: folders of movies, bundles of arrays, trained and registered
denoisers, MP4 previews."""

from fluxion.datasets.arrays import NpzDataset
from fluxion.datasets.models import MovieModelsDataset, TrainedModelDataset
from fluxion.datasets.movies import (
    FrameStream,
    IncomingMoviesDataset,
    MovieFolderDataset,
    MovieLoader,
    ReanalysisStateDataset,
)
from fluxion.datasets.registry import (
    ChampionAliasDataset,
    MethodRunsDataset,
    MovieSelectionsDataset,
    RegisteredModelDataset,
    RunTagsDataset,
    VideoFolderDataset,
)

__all__ = [
    "ChampionAliasDataset",
    "FrameStream",
    "IncomingMoviesDataset",
    "MethodRunsDataset",
    "MovieFolderDataset",
    "MovieLoader",
    "MovieModelsDataset",
    "MovieSelectionsDataset",
    "NpzDataset",
    "ReanalysisStateDataset",
    "RegisteredModelDataset",
    "RunTagsDataset",
    "TrainedModelDataset",
    "VideoFolderDataset",
]
