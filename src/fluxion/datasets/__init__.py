"""Custom Kedro datasets: folders of movies and small bundles of arrays."""

from fluxion.datasets.arrays import NpzDataset
from fluxion.datasets.movies import MovieFolderDataset, MovieLoader

__all__ = ["MovieFolderDataset", "MovieLoader", "NpzDataset"]
