"""Deterministic file writers (no timestamps or host data end up in the files)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def visible(table: pa.Table) -> pa.Table:
    """Drop the generator's hidden helper columns (names starting with ``_``)."""
    return table.select([n for n in table.column_names if not n.startswith("_")])


def write_parquet(table: pa.Table, path: Path) -> None:
    """Events: Parquet (zstd), every column a string column."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(visible(table), path, compression="zstd", row_group_size=1 << 20)


def write_csv_gz(table: pa.Table, path: Path) -> None:
    """Leads: gzip CSV with header; mtime 0 in the gzip header for reproducibility."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    pacsv.write_csv(visible(table), buf)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
        gz.write(buf.getbuffer())


def write_jsonl(table: pa.Table, path: Path) -> None:
    """Orders: JSON lines from columns that already hold JSON literals.

    A null literal means the key is absent from that line; the text ``null``
    writes an explicit JSON null.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    t = visible(table)
    pieces = [pc.binary_join_element_wise(f'"{name}":', t.column(name), "") for name in t.column_names]
    body = pc.binary_join_element_wise(*pieces, ",", null_handling="skip")
    lines = pc.binary_join_element_wise("{", body, "}\n", "")
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    path.write_bytes(data.to_pybytes()[offsets[0] : offsets[-1]] if len(lines) else b"")


def write_csv(table: pa.Table, path: Path) -> None:
    """Campaign sends: plain CSV with header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(visible(table), path)
