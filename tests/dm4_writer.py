"""A minimal Digital Micrograph 4 writer, for tests only.

No Python library writes DM4 (Gatan's format is read-only in rosettasciio), so the tests write
the tag-file structure themselves: a header, then nested tag groups with ImageList ->
ImageData {Calibrations, Data, DataType, Dimensions}, as Gatan Microscopy Suite does.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_DM_DATATYPE = {np.dtype("<f4"): 2, np.dtype("<i2"): 1, np.dtype("<u2"): 10, np.dtype("<i4"): 7}
_ENC = {"long": (3, "<i"), "float": (6, "<f"), "double": (7, "<d")}
_ARRAY_ELTYPE = {np.dtype("<f4"): 6, np.dtype("<i2"): 2, np.dtype("<u2"): 4, np.dtype("<i4"): 3}


def _name(name: str) -> bytes:
    raw = name.encode("latin1")
    return struct.pack(">h", len(raw)) + raw


def _data_tag(name: str, info: list[int], payload: bytes) -> bytes:
    body = b"%%%%" + struct.pack(">Q", len(info)) + b"".join(struct.pack(">Q", i) for i in info)
    body += payload
    return b"\x15" + _name(name) + struct.pack(">Q", len(body)) + body


def _scalar(name: str, kind: str, value: float) -> bytes:
    enc, fmt = _ENC[kind]
    return _data_tag(name, [enc], struct.pack(fmt, value))


def _string(name: str, text: str) -> bytes:
    units = text.encode("utf-16-le")
    return _data_tag(name, [20, 4, len(text)], units)


def _group(name: str, tags: list[bytes]) -> bytes:
    body = b"\x00\x01" + struct.pack(">Q", len(tags)) + b"".join(tags)
    return b"\x14" + _name(name) + struct.pack(">Q", len(body)) + body


def write_dm4(path: Path, data: np.ndarray, *, scale_nm: float = 0.05,
              frame_time_s: float = 0.0133) -> Path:
    """Write a (T, H, W) stack as DM4 with spatial calibration in nm and time in s."""
    data = np.ascontiguousarray(data.astype(data.dtype.newbyteorder("<")))
    t, h, w = data.shape
    dims = [(scale_nm, "nm"), (scale_nm, "nm"), (frame_time_s, "s")]  # DM order: x, y, z
    calibrations = _group("Calibrations", [
        _group("Brightness", [_scalar("Origin", "float", 0.0), _scalar("Scale", "float", 1.0),
                              _string("Units", "e-")]),
        _group("Dimension", [
            _group("", [_scalar("Origin", "float", 0.0), _scalar("Scale", "float", s),
                        _string("Units", u)]) for s, u in dims]),
    ])
    image_data = _group("ImageData", [
        calibrations,
        _data_tag("Data", [20, _ARRAY_ELTYPE[data.dtype], data.size], data.tobytes()),
        _scalar("DataType", "long", _DM_DATATYPE[data.dtype]),
        _group("Dimensions", [_scalar("", "long", n) for n in (w, h, t)]),
    ])
    image = _group("", [image_data, _group("ImageTags", []), _string("Name", path.stem)])
    root = b"\x01\x00" + struct.pack(">Q", 1) + _group("ImageList", [image])
    header = struct.pack(">I", 4) + struct.pack(">Q", len(root)) + struct.pack(">I", 1)
    path.write_bytes(header + root)
    return path
