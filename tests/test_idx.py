"""tinygrad_edu.idx: the IDX files of MNIST, read and written; malformed files named clearly.

The files are built here byte by byte with `struct` (as the format describes them), so a
reader and a writer that agreed on a wrong layout would still fail.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu.idx import IDX_TYPES, read_idx, write_idx


def idx_bytes(code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(f">{len(shape)}I",
                                                                      *shape) + payload


def test_a_hand_made_file_of_images_is_read(tmp_path: Path) -> None:
    pixels = bytes(range(2 * 3 * 4))
    path_bytes = idx_bytes(0x08, (2, 3, 4), pixels)
    assert path_bytes[:4] == b"\x00\x00\x08\x03"
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    for name, content in (("images-idx3-ubyte", path_bytes),
                          ("images-idx3-ubyte.gz", gzip.compress(path_bytes))):
        path = tmp_path / name
        path.write_bytes(content)
        got = read_idx(path)
        assert got.dtype == np.uint8 and got.shape == (2, 3, 4)
        assert np.array_equal(got, array)


def test_gzip_is_recognised_by_its_bytes_not_its_name(tmp_path: Path) -> None:
    path = tmp_path / "labels-idx1-ubyte"  # no .gz, but gzipped
    path.write_bytes(gzip.compress(idx_bytes(0x08, (3,), b"\x07\x02\x01")))
    assert read_idx(path).tolist() == [7, 2, 1]


def test_big_endian_numbers_come_back_in_native_order(tmp_path: Path) -> None:
    path = tmp_path / "ints"
    path.write_bytes(idx_bytes(0x0C, (2,), struct.pack(">ii", 1, -70000)))
    got = read_idx(path)
    assert got.tolist() == [1, -70000] and got.dtype == np.dtype("=i4")
    path.write_bytes(idx_bytes(0x0E, (1,), struct.pack(">d", 0.1)))
    assert read_idx(path).tolist() == [0.1]


@given(array=hnp.arrays(st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32,
                                         np.float64]),
                        hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4)),
       gzipped=st.booleans())
@settings(max_examples=40)
def test_write_then_read_gives_the_array_back(array: np.ndarray, gzipped: bool,
                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("idx") / ("a.gz" if gzipped else "a")
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array, equal_nan=array.dtype.kind == "f")
    raw = path.read_bytes()
    assert raw[:2] == (b"\x1f\x8b" if gzipped else b"\x00\x00")


def test_the_writer_lays_out_the_header_as_the_format_says(tmp_path: Path) -> None:
    path = tmp_path / "x"
    write_idx(path, np.array([[1.5, -2.0]], dtype=np.float32))
    assert path.read_bytes() == idx_bytes(0x0D, (1, 2), struct.pack(">ff", 1.5, -2.0))


@pytest.mark.parametrize(("content", "message"), [
    (b"", "starts with nothing"),
    (b"\x1f\x8b", "not a readable gzipped IDX file"),
    (b"%PDF-1.4 not idx", "is not an IDX file: it should start with the bytes 00 00"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "unknown IDX type byte 0x07"),
    (b"\x00\x00\x08\x09", "claims 9 dimensions"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "ends inside its header"),
    (idx_bytes(0x08, (2, 2), b"\x01\x02\x03"), "2x2 numbers of 1 byte(s), 4 bytes; the IDX file "
                                               "has only 3 bytes"),
    (idx_bytes(0x0B, (2,), b"\x00\x01\x00\x02\x00"), "has more bytes than that"),
    (idx_bytes(0x08, (60000, 60000, 60000), b"\x00" * 10), "has only 10 bytes of data"),
    (gzip.compress(idx_bytes(0x08, (4,), b"\x01"), mtime=0),
     "the gzipped IDX file has only 1 bytes"),
    (gzip.compress(idx_bytes(0x08, (4,), b"\x01\x02\x03\x04"), mtime=0)[:-12] + b"\x00" * 4,
     "not a readable gzipped IDX file"),
])
def test_malformed_files_are_named_with_what_is_wrong(content: bytes, message: str,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "bad-idx-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad-idx-ubyte") as caught:
        read_idx(path)
    assert message in str(caught.value)


def test_a_missing_file_is_a_file_not_found_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


@pytest.mark.parametrize(("array", "message"), [
    (np.array([True, False]), "got an array of bool"),
    (np.array([1 + 2j]), "got an array of complex128"),
    (np.array([1], dtype=np.uint32), "got an array of uint32"),
    (np.array(3, dtype=np.uint8), "got shape ()"),
    (np.zeros((1,) * 9, dtype=np.uint8), "1 to 8 dimensions"),
])
def test_the_writer_refuses_what_idx_cannot_hold(array: np.ndarray, message: str,
                                                 tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="write_idx") as caught:
        write_idx(tmp_path / "x", array)
    assert message in str(caught.value)
    assert not (tmp_path / "x").exists()


def test_the_table_of_types_is_the_formats() -> None:
    assert {code: dtype.str for code, dtype in IDX_TYPES.items()} == {
        0x08: "|u1", 0x09: "|i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
