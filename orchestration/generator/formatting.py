"""Vectorised string building: ids, ISO timestamps, JSON literals.

All helpers build Arrow string arrays straight from numpy byte matrices, so
formatting millions of ids or timestamps costs a few numpy passes instead of
Python-level string formatting.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_ZERO = ord("0")
_EPOCH = dt.date(1970, 1, 1)
_U64 = np.uint64


def date_to_day(day: dt.date) -> int:
    """Days since 1970-01-01."""
    return (day - _EPOCH).days


def day_to_date(day: int) -> dt.date:
    """Inverse of :func:`date_to_day`."""
    return _EPOCH + dt.timedelta(days=int(day))


def mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection on uint64, used to make ids look random."""
    z = np.asarray(values).astype(_U64) + _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def strings_from_matrix(
    mat: np.ndarray, lengths: np.ndarray | None = None, valid: np.ndarray | None = None
) -> pa.Array:
    """Turn an (n, width) uint8 matrix into an Arrow string array.

    ``lengths`` (optional) truncates each row; ``valid`` (optional) marks nulls.
    """
    n, width = mat.shape
    if lengths is None:
        data = np.ascontiguousarray(mat).reshape(-1)
        offsets = np.arange(n + 1, dtype=np.int64) * width
    else:
        keep = np.arange(width, dtype=np.int64)[None, :] < lengths[:, None]
        data = mat[keep]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
    bitmap, null_count = None, 0
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid.astype(bool), bitorder="little"))
        null_count = int(n - np.count_nonzero(valid))
    if offsets[-1] < 2**31 - 1:
        return pa.StringArray.from_buffers(
            n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data), bitmap, null_count
        )
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), bitmap, null_count)


def hex_ids(prefix: str, keys: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """``prefix`` + 16 hex digits of ``mix64(keys)``; unique for unique keys."""
    z = mix64(keys)
    raw = z.astype(">u8").view(np.uint8).reshape(-1, 8)
    p = len(prefix)
    mat = np.empty((len(z), p + 16), dtype=np.uint8)
    if p:
        mat[:, :p] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    mat[:, p::2] = _HEX[raw >> 4]
    mat[:, p + 1 :: 2] = _HEX[raw & 15]
    return strings_from_matrix(mat, valid=valid)


def padded_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded decimal number, e.g. ``L000123``."""
    numbers = np.asarray(numbers, dtype=np.int64)
    p = len(prefix)
    mat = np.empty((len(numbers), p + width), dtype=np.uint8)
    if p:
        mat[:, :p] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    mat[:, p:] = (numbers[:, None] // powers[None, :]) % 10 + _ZERO
    return strings_from_matrix(mat)


def _write_digits(mat: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    for k in range(width):
        mat[:, col + k] = (values // 10 ** (width - 1 - k)) % 10 + _ZERO


def _last_sunday(year: int, month: int) -> int:
    last = dt.date(year, month, 31)
    return date_to_day(last) - ((last.weekday() + 1) % 7)


def central_european_offset(epoch_seconds: np.ndarray) -> np.ndarray:
    """UTC offset in seconds of Europe/Berlin (CET/CEST) at the given instants."""
    days = epoch_seconds // 86_400
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    offset = np.full(len(epoch_seconds), 3_600, dtype=np.int64)
    for year in np.unique(years):
        start = _last_sunday(int(year), 3) * 86_400 + 3_600
        end = _last_sunday(int(year), 10) * 86_400 + 3_600
        summer = (years == year) & (epoch_seconds >= start) & (epoch_seconds < end)
        offset[summer] = 7_200
    return offset


TS_UTC_Z, TS_OFFSET, TS_NAIVE = 0, 1, 2


def format_timestamps(
    epoch_seconds: np.ndarray, style: np.ndarray | int = TS_UTC_Z, valid: np.ndarray | None = None
) -> pa.Array:
    """ISO-8601 strings for UTC instants.

    style 0: ``2026-11-01T10:03:05Z``; 1: local CET/CEST time with ``+01:00``/``+02:00``;
    2: ``2026-11-01 10:03:05`` (naive, meaning UTC).
    """
    t = np.asarray(epoch_seconds, dtype=np.int64)
    n = len(t)
    style_arr = np.broadcast_to(np.asarray(style, dtype=np.int8), (n,))
    offset = np.zeros(n, dtype=np.int64)
    has_offset = style_arr == TS_OFFSET
    if has_offset.any():
        offset[has_offset] = central_european_offset(t[has_offset])
    local = t + offset
    days = local // 86_400
    secs = local - days * 86_400
    d64 = days.astype("datetime64[D]")
    months = d64.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d64 - months).astype(np.int64) + 1
    mat = np.empty((n, 25), dtype=np.uint8)
    _write_digits(mat, 0, year, 4)
    mat[:, 4] = mat[:, 7] = ord("-")
    _write_digits(mat, 5, month, 2)
    _write_digits(mat, 8, day, 2)
    mat[:, 10] = np.where(style_arr == TS_NAIVE, ord(" "), ord("T"))
    _write_digits(mat, 11, secs // 3_600, 2)
    mat[:, 13] = mat[:, 16] = ord(":")
    _write_digits(mat, 14, (secs // 60) % 60, 2)
    _write_digits(mat, 17, secs % 60, 2)
    mat[:, 19] = np.where(has_offset, ord("+"), ord("Z"))
    mat[:, 20] = _ZERO
    mat[:, 21] = np.where(offset == 7_200, ord("2"), ord("1"))
    mat[:, 22] = ord(":")
    mat[:, 23] = mat[:, 24] = _ZERO
    lengths = np.select([style_arr == TS_UTC_Z, has_offset], [20, 25], 19).astype(np.int64)
    return strings_from_matrix(mat, lengths, valid)


def format_dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """``YYYY-MM-DD`` for day numbers since the epoch."""
    full = format_timestamps(np.asarray(days, dtype=np.int64) * 86_400, TS_UTC_Z, valid)
    return pc.utf8_slice_codeunits(full, 0, 10)


def take(dictionary: pa.Array, indices: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """``dictionary[indices]`` with nulls where ``valid`` is False."""
    idx = np.asarray(indices, dtype=np.int64)
    if valid is not None:
        idx = np.where(valid, idx, 0)
        return dictionary.take(pa.array(idx, mask=~np.asarray(valid, dtype=bool)))
    return dictionary.take(pa.array(idx))


def json_string(values: pa.Array) -> pa.Array:
    """JSON string literals (quoted, escaped); nulls stay null."""
    values = pc.replace_substring(values, "\\", "\\\\")
    values = pc.replace_substring(values, '"', '\\"')
    return pc.binary_join_element_wise('"', values, '"', "")


def json_cents(cents: np.ndarray) -> pa.Array:
    """JSON number literals with two decimals from integer cents (``-12.50``)."""
    cents = np.asarray(cents, dtype=np.int64)
    whole = pc.cast(pa.array(np.abs(cents) // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(np.abs(cents) % 100), pa.string()), 2, "0")
    sign = pa.array(np.where(cents < 0, "-", ""))
    return pc.binary_join_element_wise(sign, whole, ".", frac, "")


def json_int(values: np.ndarray) -> pa.Array:
    """JSON integer literals."""
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
