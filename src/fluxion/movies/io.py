"""Reading and writing movies as they come off the camera.

Formats: multi-page TIFF / BigTIFF, MRC, DM3 / DM4, NPY, and a folder of single-frame TIFFs.
Every reader returns frames as float32 counts with shape (T, H, W); ``lazy=True`` gives a
:class:`LazyMovie` that reads only the frames (and pixels) asked for, memory-mapped where the
format allows, so a 100 GB movie can be streamed in bounded memory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fluxion.errors import MovieError, MovieNotFoundError
from fluxion.movies.metadata import (
    TIFF_SUFFIXES,
    MovieMetadata,
    check_geometry,
    find_sidecar,
    header_metadata,
    read_sidecar,
)

MOVIE_SUFFIXES = (*TIFF_SUFFIXES, ".mrc", ".mrcs", ".dm3", ".dm4", ".npy")
BIGTIFF_THRESHOLD = 2**32 - 2**25  # classic TIFF offsets are 32-bit; leave room for the headers

__all__ = [
    "LazyMovie",
    "MovieMetadata",
    "content_hash",
    "find_sidecar",
    "is_movie_path",
    "iter_chunks",
    "natural_key",
    "read_ground_truth",
    "read_metadata",
    "read_movie",
    "time_average",
    "write_movie",
]


# --------------------------------------------------------------------------------------------
# Lazy movies
# --------------------------------------------------------------------------------------------
class LazyMovie:
    """A movie on disk that reads frames on demand.

    Supports ``len(movie)``, ``movie.shape``, ``movie[t]`` (one (H, W) frame),
    ``movie[a:b]`` / ``movie[[t0, t1]]`` ((n, H, W)) and ``movie[a:b, y0:y1, x0:x1]``; every read
    returns float32. It pickles by path, so it can be handed to worker processes.
    """

    def __init__(self, path: Path, shape: tuple[int, int, int], dtype: np.dtype,
                 read: Callable[[np.ndarray], np.ndarray],
                 crop: Callable[[np.ndarray, tuple], np.ndarray] | None = None) -> None:
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)  # the dtype stored on disk; reads are float32
        self._read = read
        self._crop = crop
        self._subset: tuple[int, int] | None = None  # (start, stop) in the file, for a view

    ndim = 3

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"LazyMovie({str(self.path)!r}, shape={self.shape}, stored as {self.dtype})"

    def __reduce__(self):
        return (_reopen_lazy, (self.path, self._subset))

    def frames(self, start: int, stop: int) -> LazyMovie:
        """Frames [start, stop) as a lazy movie of their own: nothing is read until indexed."""
        if not 0 <= start <= stop <= len(self):
            raise IndexError(f"frames [{start}, {stop}) are out of range for {len(self)} frames "
                             f"of {self.path}")
        read, crop = self._read, self._crop
        view = LazyMovie(self.path, (stop - start, *self.shape[1:]), self.dtype,
                         read=lambda index: read(index + start),
                         crop=None if crop is None else lambda index, rest: crop(index + start,
                                                                                 rest))
        offset = self._subset[0] if self._subset else 0
        view._subset = (offset + start, offset + stop)
        return view

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        frames = self[:]
        return frames if dtype is None else frames.astype(dtype, copy=False)

    def __iter__(self) -> Iterator[np.ndarray]:
        for t in range(len(self)):
            yield self[t]

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, (int, np.integer)):
            t = int(key) + len(self) if key < 0 else int(key)
            if not 0 <= t < len(self):
                raise IndexError(f"frame {key} is out of range for {len(self)} frames of "
                                 f"{self.path}")
            return self[np.array([t]), *rest][0]
        if isinstance(key, slice):
            index = np.arange(len(self))[key]
        else:
            index = np.asarray(key, dtype=np.int64).reshape(-1)
            index = np.where(index < 0, index + len(self), index)
            if index.size and (index.min() < 0 or index.max() >= len(self)):
                raise IndexError(f"frame index out of range for {len(self)} frames of {self.path}")
        if index.size == 0:
            return np.empty((0, *self.shape[1:]), np.float32)
        if rest and self._crop is not None:
            return np.asarray(self._crop(index, rest), dtype=np.float32)
        frames = np.asarray(self._read(index), dtype=np.float32)
        return frames[(slice(None), *rest)] if rest else frames


def iter_chunks(movie: np.ndarray | LazyMovie, size: int = 16) -> Iterator[np.ndarray]:
    """Yield consecutive float32 (n <= size, H, W) blocks of an array or lazy movie, in order."""
    for start in range(0, len(movie), size):
        yield np.asarray(movie[start:start + size], dtype=np.float32)


def _reopen_lazy(path: Path, subset: tuple[int, int] | None = None) -> LazyMovie:
    movie = read_movie(path, lazy=True)
    return movie if subset is None else movie.frames(*subset)


def _memmap_movie(path: Path, array: np.ndarray) -> LazyMovie:
    """A LazyMovie over a (T, H, W) memory map (NPY, MRC, contiguous TIFF).

    A C-ordered map is read with plain file reads at its offset instead: pages of a map stay
    resident (and counted in the process's memory) once touched, so streaming a long movie
    through it would grow the footprint with the frames read."""
    if isinstance(array, np.memmap) and array.flags.c_contiguous and array.offset is not None:
        frames = _FrameFile(path, int(array.offset), array.shape, array.dtype)
        return LazyMovie(path, array.shape, array.dtype, read=frames.read, crop=frames.crop)
    return LazyMovie(path, array.shape, array.dtype,
                     read=lambda index: array[index],
                     crop=lambda index, rest: array[(index, *rest)])


@dataclass(frozen=True)
class _FrameFile:
    """Frames of a C-ordered (T, H, W) block at ``offset`` bytes into a file, read on demand
    (for a crop, only its rows of each frame)."""

    path: Path
    offset: int
    shape: tuple[int, ...]
    dtype: np.dtype

    def _rows(self, index: np.ndarray, y0: int, y1: int) -> np.ndarray:
        height, width = self.shape[1:]
        row_bytes = width * self.dtype.itemsize
        out = np.empty((len(index), y1 - y0, width), self.dtype)
        with open(self.path, "rb", buffering=0) as handle:
            for i, t in enumerate(index):
                handle.seek(self.offset + (int(t) * height + y0) * row_bytes)
                if handle.readinto(memoryview(out[i]).cast("B")) != out[i].nbytes:
                    raise MovieError(f"{self.path}: frame {int(t)} is cut short; the file is "
                                     "truncated. Copy it again.")
        return out

    def read(self, index: np.ndarray) -> np.ndarray:
        return self._rows(index, 0, self.shape[1])

    def crop(self, index: np.ndarray, rest: tuple) -> np.ndarray:
        rows = rest[0] if rest else slice(None)
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            return self.read(index)[(slice(None), *rest)]
        y0, y1, _ = rows.indices(self.shape[1])
        return self._rows(index, y0, max(y0, y1))[(slice(None), slice(None), *rest[1:])]


# --------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------
def is_movie_path(path: Path) -> bool:
    """True for a file with a movie extension or a folder holding TIFF frames."""
    path = Path(path)
    if path.is_dir():
        return any(p.suffix.lower() in TIFF_SUFFIXES for p in path.iterdir())
    return path.suffix.lower() in MOVIE_SUFFIXES


def natural_key(name: str) -> list:
    """Sort key putting ``frame_2`` before ``frame_10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def read_movie(path: str | Path, *, lazy: bool = False) -> np.ndarray | LazyMovie:
    """Read a movie as (T, H, W) float32 counts.

    Parameters
    ----------
    path
        A ``.tif/.tiff``, ``.mrc/.mrcs``, ``.dm3/.dm4`` or ``.npy`` file, or a folder of
        single-frame TIFFs (read in natural order: ``2.tif`` before ``10.tif``).
    lazy
        Return a :class:`LazyMovie` that reads frames on demand instead of the whole array.

    Raises
    ------
    MovieNotFoundError
        The path does not exist.
    MovieError
        Unknown extension, corrupt / truncated / empty file, a single image, colour or 4-D data,
        and (for ``lazy=False``) non-finite values.
    """
    path = Path(path)
    if not path.exists():
        raise MovieNotFoundError(
            f"{path}: no such file or folder. Check the path, or put your movies in "
            "data/01_raw/movies/ (see README, 'Your own movies').")
    try:
        movie = _open_lazy(path)
    except PermissionError as error:
        raise MovieError(f"{path}: cannot be read by this user ({error.strerror}); give the "
                         "user running Fluxion read permission (chmod a+r).") from error
    if lazy:
        return movie
    frames = movie[:]
    check_finite(frames, source=path)
    return frames


def _open_lazy(path: Path) -> LazyMovie:
    if path.is_dir():
        return _open_tiff_folder(path)
    suffix = path.suffix.lower()
    if suffix not in MOVIE_SUFFIXES:
        raise MovieError(
            f"{path}: unknown movie extension {suffix!r}. Fluxion reads "
            f"{', '.join(MOVIE_SUFFIXES)} and folders of TIFF frames; convert the movie to one "
            "of these (e.g. with Fiji: File > Save As > Tiff).")
    if path.stat().st_size == 0:
        raise MovieError(f"{path}: the file is empty (0 bytes). Copy the movie again from the "
                         "acquisition computer.")
    opener = {".npy": _open_npy, ".mrc": _open_mrc, ".mrcs": _open_mrc, ".dm3": _open_dm,
              ".dm4": _open_dm}.get(suffix, _open_tiff)
    return opener(path)


def _check_movie_shape(path: Path, shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Accept (T, H, W) with T >= 2; explain every other shape."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2 or (len(shape) == 3 and shape[0] == 1):
        raise MovieError(
            f"{path}: holds a single {shape[-2]}x{shape[-1]} image, but a movie (several frames) "
            "is needed. Export the whole acquisition as a stack, not one frame.")
    if len(shape) == 3 and shape[-1] in (3, 4) and shape[0] > 4:
        raise MovieError(
            f"{path}: looks like one colour (RGB/RGBA) image of shape {shape}. Fluxion needs the "
            "camera's grey-level counts as a (frames, height, width) stack; export the raw data.")
    if len(shape) == 4 and shape[-1] in (3, 4):
        raise MovieError(
            f"{path}: holds colour (RGB/RGBA) frames of shape {shape}. Fluxion needs the camera's "
            "grey-level counts; export the raw (not rendered) movie.")
    if len(shape) != 3:
        raise MovieError(
            f"{path}: has {len(shape)} dimensions {shape}; a movie must be (frames, height, "
            "width). Split multi-channel or multi-position data into one movie per file.")
    if min(shape) < 1:
        raise MovieError(f"{path}: has an empty dimension in shape {shape}.")
    return shape  # type: ignore[return-value]


def _check_dtype(path: Path, dtype: np.dtype) -> None:
    if dtype.kind not in "uif" or dtype.names is not None:
        raise MovieError(f"{path}: stores {dtype} values; a movie must hold real numbers "
                         "(integer or float counts). Complex or structured data are not movies.")


def _open_npy(path: Path) -> LazyMovie:
    with open(path, "rb") as handle:
        if handle.read(6) != b"\x93NUMPY":
            raise MovieError(f"{path}: not an NPY file (no NumPy header). Check that it was "
                             "written with numpy.save and not renamed from another format.")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as error:  # truncated data, pickled objects, bad header
        raise MovieError(f"{path}: not a readable NPY movie ({error}). The file is corrupt or "
                         "truncated; copy it again or re-export it with numpy.save.") from error
    _check_dtype(path, array.dtype)
    _check_movie_shape(path, array.shape)
    return _memmap_movie(path, array)


def _open_mrc(path: Path) -> LazyMovie:
    import mrcfile

    try:
        mrc = mrcfile.mmap(path, mode="r", permissive=False)
        array = mrc.data
    except Exception as error:
        raise MovieError(f"{path}: not a readable MRC movie ({error}). The file is corrupt, "
                         "truncated or not MRC; copy it again or re-export it.") from error
    if array is None:
        raise MovieError(f"{path}: the MRC file holds no data block.")
    _check_dtype(path, array.dtype)
    _check_movie_shape(path, array.shape)
    return _memmap_movie(path, array)


def _open_dm(path: Path) -> LazyMovie:
    from rsciio.digitalmicrograph import file_reader

    try:
        signals = file_reader(str(path), lazy=True)
    except Exception as error:
        raise MovieError(f"{path}: not a readable Digital Micrograph file ({type(error).__name__}: "
                         f"{error}). The file is corrupt or truncated; export it again from "
                         "Gatan Microscopy Suite.") from error
    images = [s for s in signals if getattr(s.get("data"), "ndim", 0) >= 2]
    if not images:
        raise MovieError(f"{path}: the DM file holds no image data.")
    data = images[0]["data"]
    _check_dtype(path, np.dtype(data.dtype))
    _check_movie_shape(path, data.shape)

    def read(index: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(data[index].compute())
        except Exception as error:
            raise MovieError(f"{path}: frames {index.min()}..{index.max()} cannot be read "
                             f"({error}); the file is probably truncated.") from error

    return LazyMovie(path, data.shape, np.dtype(data.dtype), read=read)


def _tiff_file(path: Path):
    """Open a TIFF and check its page index and data against the file size."""
    import tifffile

    try:
        tif = tifffile.TiffFile(path)
        pages = list(tif.pages)
    except Exception as error:
        raise MovieError(f"{path}: not a readable TIFF file ({type(error).__name__}: {error}). "
                         "It is corrupt or truncated, or not a TIFF: check that it was copied "
                         "completely.") from error
    size = path.stat().st_size
    problem = None
    for page in pages:
        ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts, strict=False) if n]
        if ends and max(ends) > size:
            problem = f"page {page.index} needs {max(ends)} bytes but the file has {size}"
            break
    series = tif.series[0] if tif.series else None
    if series is None:
        problem = "the TIFF holds no image series"
    elif (frame := _frame_problem(series, pages)) is not None:
        problem = frame
    elif len(series.shape) == 3 and 1 < len(pages) < series.shape[0]:
        problem = (f"its header announces {series.shape[0]} frames but the page index ends "
                   f"after {len(pages)}")
    elif series.dataoffset is not None and series.dataoffset + series.nbytes > size:
        problem = (f"its frames need {series.dataoffset + series.nbytes} bytes but the file "
                   f"has {size}")
    if problem:
        tif.close()
        raise MovieError(f"{path}: is truncated or corrupt: {problem}. Copy the movie again "
                         "from the acquisition computer.")
    return tif


MAX_FRAME_PIXELS = 2**31  # ~46000 x 46000: no camera records more; a header claiming so is corrupt


def _frame_problem(series, pages) -> str | None:
    """A frame size no camera records, or uncompressed pages with fewer bytes than their size
    needs: the header's image size is corrupt (found now, not at the first read)."""
    height, width = series.shape[-2:] if len(series.shape) >= 2 else (1, 1)
    if height * width > MAX_FRAME_PIXELS:
        return f"its header declares {height} x {width} pixels per frame"
    for page in pages[:1]:
        needed = page.shape[0] * page.shape[1] * np.dtype(page.dtype).itemsize \
            if len(page.shape) >= 2 else 0
        if page.compression == 1 and needed and sum(page.databytecounts) < needed:
            return (f"page {page.index} declares {page.shape} pixels but stores "
                    f"{sum(page.databytecounts)} of the {needed} bytes they need")
    return None


def _open_tiff(path: Path) -> LazyMovie:
    import tifffile

    tif = _tiff_file(path)
    series = tif.series[0]
    shape = series.shape
    if len(shape) == 3 and len(tif.pages) == 1 and series.keyframe.samplesperpixel in (3, 4):
        shape = (1, *shape)  # a single colour page: report it as colour frames
    _check_dtype(path, np.dtype(series.dtype))
    shape = _check_movie_shape(path, shape)
    try:
        array = tifffile.memmap(path, mode="r")
        if array.shape == shape:
            tif.close()
            return _memmap_movie(path, array)
    except (ValueError, OSError):
        pass  # compressed or scattered pages: read page by page

    def read(index: np.ndarray) -> np.ndarray:
        try:
            return np.stack([tif.asarray(key=int(t)) for t in index])
        except Exception as error:
            raise MovieError(f"{path}: frames {index.min()}..{index.max()} cannot be decoded "
                             f"({error}); the file is corrupt.") from error

    return LazyMovie(path, shape, np.dtype(series.dtype), read=read)


def _open_tiff_folder(path: Path) -> LazyMovie:
    import tifffile

    files = sorted((p for p in path.iterdir() if p.suffix.lower() in TIFF_SUFFIXES),
                   key=lambda p: natural_key(p.name))
    if not files:
        raise MovieError(f"{path}: the folder holds no .tif/.tiff frames. A folder movie is one "
                         "single-frame TIFF per frame.")
    shapes = {}
    for file in files:
        with _tiff_file(file) as tif:
            shapes[file] = (tif.series[0].shape, np.dtype(tif.series[0].dtype))
    first_shape, dtype = shapes[files[0]]
    for file, (shape, _) in shapes.items():
        if len(shape) != 2:
            raise MovieError(f"{file}: a folder movie needs one 2-D frame per file, but this file "
                             f"has shape {shape}. Put multi-frame stacks in their own file.")
        if shape != first_shape:
            raise MovieError(f"{path}: frames have different sizes: {files[0].name} is "
                             f"{first_shape[0]}x{first_shape[1]} but {file.name} is "
                             f"{shape[0]}x{shape[1]}. Remove or crop the odd frames.")
    _check_dtype(path, dtype)
    shape = _check_movie_shape(path, (len(files), *first_shape))
    return LazyMovie(path, shape, dtype,
                     read=lambda index: np.stack([tifffile.imread(files[t]) for t in index]))


def check_finite(frames: np.ndarray, *, source: Path | str, first_frame: int = 0) -> None:
    """Raise :class:`MovieError` naming the first frame that holds NaN or infinity."""
    finite = np.isfinite(frames)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        raise MovieError(
            f"{source}: frame {first_frame + int(bad[0])} holds a non-finite value (NaN or inf) at "
            f"row {bad[1]}, column {bad[2]}. Fluxion needs finite counts: re-export the movie, or "
            "replace dead pixels before ingestion.")


# --------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------
def write_movie(path: str | Path, frames: Iterable[np.ndarray], *,
                n_frames: int | None = None) -> Path:
    """Stream frames to a ``.tif/.tiff`` or ``.npy`` movie without holding the movie in memory.

    Frames are written as float32. The file appears under its final name only when complete (it
    is written to ``<name>.partial`` and renamed), so a killed run never leaves a truncated movie.
    TIFF switches to BigTIFF past 4 GB; when the number of frames is unknown (a generator and no
    ``n_frames``) BigTIFF is used to be safe.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (*TIFF_SUFFIXES, ".npy"):
        raise MovieError(f"{path}: write_movie writes .tif/.tiff or .npy, not {suffix!r}.")
    if n_frames is None and hasattr(frames, "__len__"):
        n_frames = len(frames)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    writer = _write_npy if suffix == ".npy" else _write_tiff
    try:
        count = writer(partial, iter(frames), n_frames)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if count < 1:
        partial.unlink(missing_ok=True)
        raise MovieError(f"{path}: no frames were given to write.")
    partial.replace(path)
    return path


def _as_frame(frame: np.ndarray, shape: tuple[int, ...] | None, path: Path, t: int) -> np.ndarray:
    frame = np.asarray(frame, dtype=np.float32)
    if frame.ndim != 2 or (shape is not None and frame.shape != shape):
        expected = "a 2-D frame" if shape is None else f"shape {shape}"
        raise MovieError(f"{path}: frame {t} has shape {frame.shape}, expected {expected}.")
    return frame


def _write_tiff(path: Path, frames: Iterator[np.ndarray], n_frames: int | None) -> int:
    import tifffile

    first = next(frames, None)
    if first is None:
        return 0
    first = _as_frame(first, None, path, 0)
    big = n_frames is None or n_frames * first.nbytes > BIGTIFF_THRESHOLD
    count = 0
    with tifffile.TiffWriter(path, bigtiff=big) as tif:
        for t, frame in enumerate(_chain(first, frames)):
            tif.write(_as_frame(frame, first.shape, path, t), contiguous=True,
                      photometric="minisblack")
            count += 1
    return count


_NPY_HEADER_BYTES = 128  # room for any (T, H, W) float32 header


def _npy_header(shape: tuple[int, int, int]) -> bytes:
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
    body_len = _NPY_HEADER_BYTES - 10  # magic (6) + version (2) + length (2)
    return (b"\x93NUMPY\x01\x00" + body_len.to_bytes(2, "little")
            + text.ljust(body_len - 1).encode("latin1") + b"\n")


def _write_npy(path: Path, frames: Iterator[np.ndarray], n_frames: int | None) -> int:
    first = next(frames, None)
    if first is None:
        return 0
    first = _as_frame(first, None, path, 0)
    count = 0
    with open(path, "wb") as out:
        out.write(_npy_header((n_frames or 0, *first.shape)))
        for t, frame in enumerate(_chain(first, frames)):
            out.write(_as_frame(frame, first.shape, path, t).astype("<f4", copy=False).tobytes())
            count += 1
        out.seek(0)
        out.write(_npy_header((count, *first.shape)))  # the real length, same header size
    return count


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


# --------------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------------
def read_metadata(path: str | Path) -> MovieMetadata:
    """Recording metadata of a movie: header values, overridden by the sidecar ``<movie>.yml``.

    The sidecar may give any of :data:`SIDECAR_KEYS`. The polygon and vacuum box are checked
    against the frame size read from the movie's header.
    """
    path = Path(path)
    movie = read_movie(path, lazy=True)
    first = None
    if path.is_dir():
        first = min((p for p in path.iterdir() if p.suffix.lower() in TIFF_SUFFIXES),
                    key=lambda p: natural_key(p.name))
    meta = header_metadata(path, first)
    sidecar = find_sidecar(path)
    if sidecar is not None:
        for key, value in read_sidecar(sidecar).items():
            setattr(meta, key, value)
            meta.sources[key] = "sidecar"
        if meta.ground_truth is not None:
            meta.ground_truth = str((sidecar.parent / meta.ground_truth).resolve())
    check_geometry(meta, movie.shape, sidecar or path)
    return meta


def time_average(movie: np.ndarray | LazyMovie, *, chunk: int = 32) -> np.ndarray:
    """Mean frame of a movie, streamed in blocks (float64 accumulation)."""
    total = np.zeros(movie.shape[1:], np.float64)
    for block in iter_chunks(movie, chunk):
        total += block.sum(axis=0, dtype=np.float64)
    return (total / len(movie)).astype(np.float32)


def content_hash(path: str | Path, *, chunk: int = 1 << 23) -> str:
    """SHA-256 of a movie's content: its file (or every file of a frame folder, in natural
    order, with their names) and its sidecar. What decides whether a copy is up to date: a
    replacement with an older modification time (``cp -p``, ``rsync -a``) still changes it."""
    path = Path(path)
    files = sorted((p for p in path.iterdir() if p.is_file()), key=natural_key) \
        if path.is_dir() else [path]
    sidecar = find_sidecar(path)
    if sidecar is not None and sidecar not in files:
        files.append(sidecar)
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.name}\0{file.stat().st_size}\0".encode())
        with open(file, "rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def read_ground_truth(path: str | Path, shape: tuple[int, ...], *,
                      sidecar: str | Path = "the sidecar") -> np.ndarray:
    """A simulation's clean movie (NPY, memory-mapped), checked against the noisy movie's
    ``shape``; raises :class:`MovieError` naming the file for a missing, unreadable, pickled or
    differently shaped one."""
    path = Path(path)
    if not path.is_file():
        raise MovieError(f"{sidecar}: ground_truth {path} does not exist; fix the path (relative "
                         "to the sidecar) or remove the key.")
    try:
        truth = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as error:
        raise MovieError(f"{sidecar}: ground_truth {path} is not a plain NPY array of numbers "
                         f"({error}); save it with numpy.save from a numeric array.") from error
    if tuple(truth.shape) != tuple(shape) or not np.issubdtype(truth.dtype, np.number):
        raise MovieError(f"{sidecar}: ground_truth {path} holds {truth.dtype} of shape "
                         f"{tuple(truth.shape)}; the movie is {tuple(shape)}.")
    return truth
