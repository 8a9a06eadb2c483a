"""fluxion.movies.incoming: the re-analysis record is keyed by content, not by listings."""

from __future__ import annotations

import threading
import time

import numpy as np

from fluxion.movies.incoming import IncomingState, scan_incoming


def _movie(path, seed):
    np.save(path, np.random.default_rng(seed).poisson(2.0, (6, 8, 8)).astype(np.float32))


def test_done_and_skipped_movies_wait_for_a_change_of_content(tmp_path):
    incoming, state = tmp_path / "incoming", IncomingState(tmp_path / "state.json")
    incoming.mkdir()
    _movie(incoming / "a.npy", 1)
    _movie(incoming / "b.npy", 2)
    (incoming / "a.yml").write_text("pixel_size: 0.3\n")  # a sidecar is not a movie
    (incoming / ".hidden.npy").write_bytes(b"")
    scan = scan_incoming(incoming, state, settle_s=0)
    assert sorted(scan.pending) == ["a", "b"]
    state.record("a", scan.pending["a"][1], "done")
    state.record("b", scan.pending["b"][1], "skipped", "truncated")
    state.write()
    state = IncomingState.read(tmp_path / "state.json")
    again = scan_incoming(incoming, state, settle_s=0)
    assert again.pending == {} and again.still_skipped == {"b": "truncated"}
    _movie(incoming / "b.npy", 3)  # completed / replaced: retried
    (incoming / "a.yml").write_text("pixel_size: 0.25\n")  # the sidecar is content too
    assert sorted(scan_incoming(incoming, state, settle_s=0).pending) == ["a", "b"]


def test_a_movie_still_being_written_is_left_for_the_next_run(tmp_path):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    growing = incoming / "c.npy"
    _movie(growing, 4)

    def keep_writing():
        for _ in range(8):
            time.sleep(0.05)
            with open(growing, "ab") as handle:
                handle.write(b"0" * 100)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    scan = scan_incoming(incoming, IncomingState(tmp_path / "s.json"), settle_s=0.2)
    writer.join()
    assert scan.settling == ["c"] and scan.pending == {}
    young = scan_incoming(incoming, IncomingState(tmp_path / "s.json"), settle_s=0,
                          min_age_s=3600)
    assert young.settling == ["c"]
