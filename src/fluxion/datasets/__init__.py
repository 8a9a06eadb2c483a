"""Custom Kedro datasets: folders of movies, bundles of arrays, trained denoisers."""

from fluxion.datasets.arrays import NpzDataset
from fluxion.datasets.models import TrainedModelDataset
from fluxion.datasets.movies import MovieFolderDataset, MovieLoader

__all__ = ["MovieFolderDataset", "MovieLoader", "NpzDataset", "TrainedModelDataset"]
