"""The IDX file format of MNIST and Fashion-MNIST: `read_idx` and `write_idx` (numpy only).

An IDX file is a header and then the numbers, big-endian:

    bytes 0-1   0, 0
    byte  2     the type of the numbers: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     the number of dimensions, d
    then        d sizes, each a big-endian uint32
    then        the numbers, in C order (the last index changes fastest)

MNIST's images are ``(n, 28, 28)`` uint8 arrays (idx3), its labels ``(n,)`` uint8 (idx1). The
files are often stored gzipped (``train-images-idx3-ubyte.gz``): `read_idx` recognises gzip by
its first two bytes, whatever the name.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx2-ubyte")
>>> write_idx(path, np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8))
>>> open(path, "rb").read()[:12].hex(" ")  # 0 0, type 0x08, 2 dims: 2 and 3
'00 00 08 02 00 00 00 02 00 00 00 03'
>>> read_idx(path)
array([[1, 2, 3],
       [4, 5, 6]], dtype=uint8)
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from typing import Any

import numpy as np

__all__ = ["IDX_TYPES", "read_idx", "write_idx"]

IDX_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""The type byte of an IDX file and the (big-endian) numpy type of its numbers."""

GZIP_MAGIC = b"\x1f\x8b"
MAX_DIMENSIONS = 8
CHUNK = 1 << 20


def _opened(path: str | os.PathLike[str]) -> tuple[Any, bool]:
    """The file at `path`, open for reading bytes (through gzip when it starts as gzip does)."""
    file = open(path, "rb")  # noqa: SIM115  (returned open, closed by the caller)
    gzipped = file.read(2) == GZIP_MAGIC
    file.seek(0)
    if gzipped:
        return gzip.GzipFile(fileobj=file, mode="rb"), True
    return file, False


def _read_at_most(file: Any, count: int) -> bytes:
    """Up to `count` bytes of `file`, read in chunks: a header that claims more data than the
    file holds costs no more memory than the file."""
    chunks: list[bytes] = []
    left = count
    while left > 0:
        chunk = file.read(min(left, CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray[Any, np.dtype[Any]]:
    """The array stored in the IDX file at `path` (gzipped or not), in its own type
    (native byte order); a `ValueError` naming the file and what is wrong with it when it is
    not a well-formed IDX file (a wrong header, an unknown type, too few or too many bytes).

    A missing file raises `FileNotFoundError`, as `open` does.
    """
    name = os.fspath(path)
    file, gzipped = _opened(path)
    what = "gzipped IDX file" if gzipped else "IDX file"
    try:
        try:
            header = file.read(4)
            if len(header) < 4 or header[:2] != b"\x00\x00":
                raise ValueError(f"{name!r} is not an IDX file: it should start with the bytes "
                                 f"00 00, a type and a number of dimensions; it starts with "
                                 f"{header.hex(' ') or 'nothing (it is empty)'}")
            code, ndim = header[2], header[3]
            if code not in IDX_TYPES:
                known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
                raise ValueError(f"{name!r}: unknown IDX type byte 0x{code:02X} (known: {known})")
            if not 1 <= ndim <= MAX_DIMENSIONS:  # (as write_idx: an IDX array, not a number)
                raise ValueError(f"{name!r}: the header claims {ndim} dimensions; an IDX file "
                                 f"has 1 to {MAX_DIMENSIONS} here")
            raw_shape = file.read(4 * ndim)
            if len(raw_shape) < 4 * ndim:
                raise ValueError(f"{name!r}: the {what} ends inside its header ({ndim} sizes "
                                 f"expected)")
            shape = tuple(int(s) for s in np.frombuffer(raw_shape, dtype=">u4"))
            dtype = IDX_TYPES[code]
            expected = math.prod(shape) * dtype.itemsize
            body = _read_at_most(file, expected + 1)  # one more byte: a file too long
        except (OSError, EOFError, zlib.error) as error:  # a damaged gzip stream
            raise ValueError(f"{name!r} is not a readable {what}: {error}") from None
    finally:
        file.close()
    if len(body) != expected:
        size = "x".join(map(str, shape))
        problem = (f"has only {len(body)} bytes of data" if len(body) < expected
                   else "has more bytes than that")
        raise ValueError(f"{name!r}: the header describes {size} numbers of "
                         f"{dtype.itemsize} byte(s), {expected} bytes; the {what} {problem} "
                         "(truncated or not an IDX file?)")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: Any) -> None:
    """Store `array` in the IDX file at `path`, gzipped when the name ends in ``.gz``.

    Its type must be one IDX knows (uint8, int8, int16, int32, float32, float64), and it must
    have 1 to 8 dimensions.
    """
    data = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_TYPES.items()}
    if data.dtype.newbyteorder("=") not in codes:
        known = ", ".join(str(t.newbyteorder("=")) for t in IDX_TYPES.values())
        raise ValueError(f"write_idx: IDX files hold {known}; got an array of {data.dtype}")
    if not 1 <= data.ndim <= MAX_DIMENSIONS:
        raise ValueError(f"write_idx: an IDX array has 1 to {MAX_DIMENSIONS} dimensions; got "
                         f"shape {data.shape}")
    code = codes[data.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, data.ndim]) + np.array(data.shape, dtype=">u4").tobytes()
    content = header + data.astype(IDX_TYPES[code]).tobytes()
    if os.fspath(path).endswith(".gz"):
        content = gzip.compress(content, mtime=0)
    with open(path, "wb") as file:
        file.write(content)
