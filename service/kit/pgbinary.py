"""PostgreSQL's binary array format, decoded with numpy: a big read can travel as a few `array_send` byte
strings instead of millions of rows (SLA histograms, capacity history).

`array_send` of a one-dimensional array without NULLs is a 20-byte header, then one record per element:
its length (int4) and its value, big-endian. Concatenating records without the header (in SQL:
`substring(array_send(a) FROM 21)`) is a memcpy, so many arrays can be joined before decoding.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

ARRAY_HEADER = 20
INT2, INT4, INT8 = ">i2", ">i4", ">i8"


def record_type(value: str) -> np.dtype[np.void]:
    return np.dtype([("n", ">i4"), ("v", value)])


def values(buf: bytes, value: str, header: bool = True) -> NDArray[np.int64]:
    """The elements of one array's bytes (HEADER: as array_send wrote them; else records only), as int64.
    Raises ValueError on anything but non-null elements of type VALUE."""
    kind = record_type(value)
    body = memoryview(buf)[ARRAY_HEADER:] if header and len(buf) else memoryview(buf)
    if len(body) % kind.itemsize:
        raise ValueError("not an array of this element type")
    records = np.frombuffer(body, kind)
    if np.any(records["n"] != np.dtype(value).itemsize):
        raise ValueError("an array element is NULL or of another type")
    return records["v"].astype(np.int64)
