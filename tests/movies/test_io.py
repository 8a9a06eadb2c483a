"""fluxion.movies.io: every reader round-trips a file written by its format's own library; lazy
reads, streaming writes and every bad input the issue lists."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
import tracemalloc

import mrcfile
import numpy as np
import pytest
import tifffile

import fluxion.movies.io
from dm4_writer import write_dm4
from fluxion.errors import MovieError, MovieNotFoundError
from fluxion.movies.io import (
    LazyMovie,
    iter_chunks,
    read_metadata,
    read_movie,
    write_movie,
)


@pytest.fixture
def stack(rng):
    return rng.poisson(0.5, size=(7, 12, 10)).astype(np.uint16)


# ---- round trips ------------------------------------------------------------------------------
def _write(kind, path, data):
    if kind == "tif":
        tifffile.imwrite(path, data)
    elif kind == "bigtif":
        tifffile.imwrite(path, data, bigtiff=True)
    elif kind == "tif-compressed":
        tifffile.imwrite(path, data, compression="zlib")
    elif kind == "imagej":
        tifffile.imwrite(path, data, imagej=True)
    elif kind == "mrc":
        with mrcfile.new(path) as mrc:
            mrc.set_data(data.astype(np.float32))
    elif kind == "npy":
        np.save(path, data)
    elif kind == "dm4":
        write_dm4(path, data.astype(np.float32))


@pytest.mark.parametrize("kind, suffix", [
    ("tif", ".tif"), ("bigtif", ".tif"), ("tif-compressed", ".tiff"), ("imagej", ".tif"),
    ("mrc", ".mrc"), ("npy", ".npy"), ("dm4", ".dm4"),
])
def test_each_format_round_trips_eagerly_and_lazily(tmp_path, stack, kind, suffix):
    path = tmp_path / f"movie{suffix}"
    _write(kind, path, stack)
    eager = read_movie(path)
    assert eager.dtype == np.float32 and eager.shape == stack.shape
    np.testing.assert_array_equal(eager, stack)
    lazy = read_movie(path, lazy=True)
    assert isinstance(lazy, LazyMovie) and lazy.shape == stack.shape and len(lazy) == 7
    np.testing.assert_array_equal(lazy[3], stack[3])
    np.testing.assert_array_equal(lazy[-1], stack[-1])
    np.testing.assert_array_equal(lazy[2:5], stack[2:5])
    np.testing.assert_array_equal(lazy[[6, 0]], stack[[6, 0]])
    np.testing.assert_array_equal(lazy[1:3, 2:6, 4:], stack[1:3, 2:6, 4:])
    assert lazy[3].dtype == np.float32
    with pytest.raises(IndexError):
        lazy[7]
    view = lazy.frames(2, 6)  # a lazy sub-movie: the test frames, streamed
    assert view.shape == (4, 12, 10)
    np.testing.assert_array_equal(view[1:3, 2:6, 4:], stack[3:5, 2:6, 4:])
    np.testing.assert_array_equal(view.frames(1, 3)[[1, 0]], stack[[4, 3]])


def test_tiff_folder_is_read_in_natural_order(tmp_path, stack):
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, frame in enumerate(stack):  # frame_2 must come before frame_10
        tifffile.imwrite(folder / f"frame_{t * 4}.tif", frame)
    np.testing.assert_array_equal(read_movie(folder), stack)
    assert read_movie(folder, lazy=True)[5].sum() == stack[5].sum()


def test_lazy_movie_pickles_by_path(tmp_path, stack):
    path = tmp_path / "m.npy"
    np.save(path, stack)
    clone = pickle.loads(pickle.dumps(read_movie(path, lazy=True)))
    np.testing.assert_array_equal(clone[4], stack[4])
    view = pickle.loads(pickle.dumps(read_movie(path, lazy=True).frames(2, 6).frames(1, 3)))
    np.testing.assert_array_equal(view[:], stack[3:5])


# ---- writing ----------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".tif", ".npy"])
def test_write_movie_streams_a_generator(tmp_path, suffix, stack):
    path = tmp_path / f"out{suffix}"
    write_movie(path, (frame for frame in stack))  # length unknown to the writer
    np.testing.assert_array_equal(read_movie(path), stack)
    assert not list(tmp_path.glob("*.partial"))


def test_tiff_of_unknown_length_is_bigtiff_and_known_small_is_classic(tmp_path, stack):
    write_movie(tmp_path / "gen.tif", iter(stack))
    write_movie(tmp_path / "list.tif", list(stack))
    with tifffile.TiffFile(tmp_path / "gen.tif") as tif:
        assert tif.is_bigtiff
    with tifffile.TiffFile(tmp_path / "list.tif") as tif:
        assert not tif.is_bigtiff


def test_failed_write_leaves_no_file(tmp_path, stack):
    def frames():
        yield stack[0]
        raise RuntimeError("camera unplugged")

    with pytest.raises(RuntimeError):
        write_movie(tmp_path / "broken.npy", frames())
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MovieError, match="shape"):
        write_movie(tmp_path / "odd.npy", [stack[0], stack[0][:5]])


def test_iterating_a_lazy_movie_keeps_python_memory_at_one_chunk(tmp_path):
    frames, size = 64, 256  # 16 MB on disk
    write_movie(tmp_path / "big.npy", (np.full((size, size), t, np.float32)
                                       for t in range(frames)))
    movie = read_movie(tmp_path / "big.npy", lazy=True)
    tracemalloc.start()
    total = sum(float(chunk[:, 0, 0].sum()) for chunk in iter_chunks(movie, 4))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == sum(range(frames))
    assert peak < 4 * 4 * size * size * 3  # a few 4-frame chunks, not the 16 MB movie


def test_lazy_open_of_a_large_file_reads_almost_nothing(tmp_path):
    """Opening a 400 MB movie lazily and reading three frames grows RSS by < 40 MB."""
    path = tmp_path / "large.tif"
    frame = np.ones((1024, 1024), np.float32)
    write_movie(path, (frame * t for t in range(100)), n_frames=100)
    script = textwrap.dedent(f"""
        import resource, numpy as np
        from fluxion.movies.io import read_movie
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        movie = read_movie({str(path)!r}, lazy=True)
        values = [float(movie[t][5, 5]) for t in (0, 50, 99)]
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert values == [0.0, 50.0, 99.0], values
        print((after - before) / 1024)
    """)
    grown_mb = float(subprocess.run([sys.executable, "-c", script], check=True,
                                    capture_output=True, text=True).stdout)
    assert grown_mb < 40


# ---- metadata ---------------------------------------------------------------------------------
def test_metadata_from_headers(tmp_path, stack):
    tifffile.imwrite(tmp_path / "ij.tif", stack, imagej=True, resolution=(1 / 0.05, 1 / 0.05),
                     metadata={"unit": "nm", "finterval": 1 / 75})
    meta = read_metadata(tmp_path / "ij.tif")
    assert meta.pixel_size == pytest.approx(0.5) and meta.frame_rate == pytest.approx(75)
    with mrcfile.new(tmp_path / "m.mrc") as mrc:
        mrc.set_data(stack.astype(np.float32))
        mrc.voxel_size = 0.42
    assert read_metadata(tmp_path / "m.mrc").pixel_size == pytest.approx(0.42)
    write_dm4(tmp_path / "d.dm4", stack.astype(np.float32), scale_nm=0.03, frame_time_s=0.1)
    meta = read_metadata(tmp_path / "d.dm4")
    assert meta.pixel_size == pytest.approx(0.3) and meta.frame_rate == pytest.approx(10)
    assert meta.sources == {"pixel_size": "header", "frame_rate": "header"}


def test_sidecar_overrides_header_and_gives_regions(tmp_path, stack):
    write_dm4(tmp_path / "d.dm4", stack.astype(np.float32), scale_nm=0.03)
    (tmp_path / "d.yml").write_text(
        "pixel_size: 0.25\ndose_rate: 2000\nparticle_polygon: [[1, 1], [8, 1], [8, 9]]\n"
        "vacuum_box: [0, 0, 4, 3]\n")
    meta = read_metadata(tmp_path / "d.dm4")
    assert meta.pixel_size == 0.25 and meta.dose_rate == 2000
    assert meta.particle_polygon == [[1, 1], [8, 1], [8, 9]] and meta.vacuum_box == [0, 0, 4, 3]
    assert meta.sources["pixel_size"] == "sidecar" and meta.sources["frame_rate"] == "header"


# ---- bad input --------------------------------------------------------------------------------
def test_missing_path_is_a_file_not_found_error(tmp_path):
    with pytest.raises(MovieNotFoundError, match="no such file") as info:
        read_movie(tmp_path / "nope.tif")
    assert isinstance(info.value, FileNotFoundError)


@pytest.mark.parametrize("name, content, message", [
    ("movie.avi", b"RIFF", "unknown movie extension"),
    ("empty.tif", b"", "empty"),
    ("notes.tif", b"frame rate was 75 fps\n", "not a readable TIFF"),
    ("notes.npy", b"just some text", "not an NPY file"),
    ("notes.mrc", b"hello" * 300, "not a readable MRC"),
    ("notes.dm4", b"hello" * 30, "not a readable Digital Micrograph"),
])
def test_wrong_or_text_files_are_refused(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(MovieError, match=message) as info:
        read_movie(tmp_path / name)
    assert name in str(info.value)


@pytest.mark.parametrize("keep", [0.4, 0.67])
@pytest.mark.parametrize("kind, suffix", [("tif", ".tif"), ("tif-compressed", ".tif"),
                                          ("npy", ".npy"), ("mrc", ".mrc"), ("dm4", ".dm4")])
def test_truncated_files_are_refused(tmp_path, stack, kind, suffix, keep):
    path = tmp_path / f"cut{suffix}"
    _write(kind, path, np.tile(stack, (4, 1, 1)))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(MovieError, match=r"truncated|corrupt|cannot be read"):
        read_movie(path)


@pytest.mark.parametrize("shape, message", [
    ((12, 10), "single 12x10 image"),
    ((1, 12, 10), "single 12x10 image"),
    ((5, 12, 10, 3), "colour"),
    ((2, 5, 12, 10), "4 dimensions"),
])
def test_wrong_shapes_are_refused(tmp_path, shape, message):
    np.save(tmp_path / "x.npy", np.zeros(shape, np.float32))
    with pytest.raises(MovieError, match=message):
        read_movie(tmp_path / "x.npy")


def test_rgb_tiff_is_refused_as_colour(tmp_path):
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((40, 50, 3), np.uint8), photometric="rgb")
    with pytest.raises(MovieError, match="colour"):
        read_movie(tmp_path / "rgb.tif")


def test_non_finite_values_are_refused_with_their_frame(tmp_path, stack):
    data = stack.astype(np.float32)
    data[4, 2, 3] = np.nan
    np.save(tmp_path / "nan.npy", data)
    with pytest.raises(MovieError, match="frame 4 holds a non-finite value"):
        read_movie(tmp_path / "nan.npy")


def test_folder_with_mismatched_frames_is_refused(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    tifffile.imwrite(folder / "1.tif", np.zeros((8, 8), np.uint16))
    tifffile.imwrite(folder / "2.tif", np.zeros((8, 9), np.uint16))
    with pytest.raises(MovieError, match="different sizes"):
        read_movie(folder)


@pytest.mark.parametrize("sidecar, message", [
    ("pixel_size: [0.5\n", "not valid YAML"),
    ("- 1\n- 2\n", "must be a mapping"),
    ("pixelsize: 0.5\n", "unknown sidecar key"),
    ("pixel_size: -1\n", "positive, finite number"),
    ("pixel_size: .inf\n", "positive, finite number"),
    ("particle_polygon: [[1, 1], [2, 2]]\n", "at least 3"),
    ("vacuum_box: [5, 5, 1, 1]\n", "x0 < x1"),
    ("particle_polygon: [[1, 1], [30, 1], [5, 5]]\n", "outside the 10x12"),
    ("vacuum_box: [0, 0, 11, 4]\n", "outside the 10x12"),
    ("particle_polygon: [[1, 1], [8, 8], [8, 1], [1, 8]]\n", "intersects itself"),
])
def test_malformed_sidecars_are_refused(tmp_path, stack, sidecar, message):
    np.save(tmp_path / "m.npy", stack)
    (tmp_path / "m.yml").write_text(sidecar)
    with pytest.raises(MovieError, match=message) as info:
        read_metadata(tmp_path / "m.npy")
    assert "m.yml" in str(info.value)


def test_an_unreadable_movie_is_a_clear_error(tmp_path, stack, monkeypatch):
    """As a user without read permission sees it (the tests may run as root, who reads all)."""
    np.save(tmp_path / "m.npy", stack)

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fluxion.movies.io, "open", refused, raising=False)
    with pytest.raises(MovieError, match=r"m\.npy: cannot be read by this user"):
        read_movie(tmp_path / "m.npy")


def test_a_tiff_declaring_an_impossible_frame_size_is_refused_at_open(tmp_path):
    """Tags claiming 2e9 x 2e9 pixels: refused when the movie is opened, not at the first read."""
    path = tmp_path / "huge.tif"
    tifffile.imwrite(path, np.zeros((3, 16, 16), np.uint16))
    data = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        offsets = [page.tags[code].valueoffset for page in tif.pages for code in (256, 257)]
    for offset in offsets:  # ImageWidth and ImageLength, stored as LONG by tifffile
        data[offset:offset + 4] = (2_000_000_000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(MovieError, match=r"huge\.tif: is truncated or corrupt: its header "
                       r"declares 2000000000 x 2000000000 pixels per frame"):
        read_movie(path, lazy=True)
