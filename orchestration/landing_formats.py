"""How the loader reads the files real shops send: per-folder dialect options and limits.

A landing folder may hold a small ``_format.yml`` (hidden from discovery by its leading
``_``) with the dialect of every file below it (README, "File formats and dialects"):

.. code-block:: yaml

    encoding: windows-1252    # any Python codec name; default utf-8 (a BOM is skipped)
    delimiter: ';'            # CSV field separator; default: detected
    quote: '"'                # CSV quote character; default '"'
    decimal: ','              # numbers use a decimal comma (1.234,50): rewritten to 1234.50
    date_format: '%d/%m/%Y'   # or a list; dates/timestamps in this form become ISO text

Unknown keys and bad values are an error naming the file, the key and the accepted form.

Everything a file or its options contributes to SQL is bound as a parameter: the path
(with glob characters escaped, so ``x*.csv`` reads only itself), the delimiter, the date
formats. Decimal commas and day-first dates are normalised here, in the loader, into the
text the contract expects (``12.50``, ``2026-06-01``), so staging stays one portable SQL.
A file in another encoding is transcoded to UTF-8 into a private temporary folder first.
"""

from __future__ import annotations

import atexit
import codecs
import gzip
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FORMAT_FILE = "_format.yml"

#: The keys a ``_format.yml`` may hold, with the accepted form (messages, README).
OPTIONS: dict[str, str] = {
    "encoding": "a text encoding such as utf-8, windows-1252 or latin-1",
    "delimiter": "one character: ',', ';', '|' or '\\t' (tab)",
    "quote": "one character, e.g. '\"' or \"'\"",
    "decimal": "'.' (the default) or ','",
    "date_format": "a date format such as '%d/%m/%Y' or '%d.%m.%Y %H:%M', or a list of them",
}

#: Contract columns holding numbers (``decimal`` rewrites them).
NUMERIC_COLUMNS = frozenset({"amount", "age", "latitude", "longitude", "item_count"})


def is_date_column(column: str) -> bool:
    """Columns holding dates or timestamps, by the project's naming convention."""
    return column.endswith(("_at", "_date"))


#: Defaults of the limits (settings LEADSCORE_LANDING_MAX_CELL_BYTES / _MAX_JSON_DEPTH).
DEFAULT_MAX_CELL_BYTES = 1_048_576
DEFAULT_MAX_JSON_DEPTH = 64


@dataclass(frozen=True)
class Limits:
    """What one landing value may hold; a file with a larger value is refused by name."""

    max_cell_bytes: int = DEFAULT_MAX_CELL_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH

    @property
    def csv_max_line_size(self) -> int:
        # DuckDB's own limit on a CSV line: room for a few maximal cells, so that an
        # oversized value is reported by the cell check, not as DuckDB's line error
        return max(2_097_152, 4 * self.max_cell_bytes)

    @property
    def json_max_object_size(self) -> int:
        return max(16_777_216, 4 * self.max_cell_bytes)


class FormatOptionsError(ValueError):
    """A ``_format.yml`` that is not valid: names the file, the key and the accepted form.
    The message starts with the file (``orders/_format.yml: ``); ``problem`` is the rest."""

    def __init__(self, message: str):
        super().__init__(message)
        self.problem = message.split(": ", 1)[-1] if ": " in message else message


@dataclass(frozen=True)
class FormatOptions:
    """The dialect of one landing folder (all defaults when it has no ``_format.yml``)."""

    encoding: str = "utf-8"
    delimiter: str | None = None
    quote: str | None = None
    decimal: str = "."
    date_formats: tuple[str, ...] = ()
    #: the ``_format.yml`` these came from (None: defaults), shown as e.g. events/_format.yml
    source: str | None = None

    @property
    def is_utf8(self) -> bool:
        return codecs.lookup(self.encoding).name == "utf-8"

    def where(self, entity: str) -> str:
        """Where an option is set, for messages."""
        return self.source or f"{entity}/{FORMAT_FILE}"


_DIRECTIVE = re.compile(r"%.")
_DATE_DIRECTIVES = {"%d", "%m", "%Y", "%y", "%b", "%B"}
_ALLOWED_DIRECTIVES = _DATE_DIRECTIVES | {"%H", "%M", "%S", "%f", "%I", "%p", "%%"}


def _one_char(key: str, value: Any, where: str) -> str:
    if value == "\\t":
        value = "\t"
    if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
        raise FormatOptionsError(f"{where}: {key} must be {OPTIONS[key]}, got {value!r}")
    return value


def _date_formats(value: Any, where: str) -> tuple[str, ...]:
    formats = [value] if isinstance(value, str) else value
    if not isinstance(formats, list) or not formats or not all(isinstance(f, str) for f in formats):
        raise FormatOptionsError(f"{where}: date_format must be {OPTIONS['date_format']}, "
                                 f"got {value!r}")
    for fmt in formats:
        directives = set(_DIRECTIVE.findall(fmt))
        unknown = directives - _ALLOWED_DIRECTIVES
        if unknown or "%d" not in directives or not {"%m", "%b", "%B"} & directives or not {"%Y", "%y"} & directives:
            raise FormatOptionsError(
                f"{where}: date_format {fmt!r} is not {OPTIONS['date_format']}: it needs a day "
                f"(%d), a month (%m or %b) and a year (%Y or %y); time parts may be %H %M %S %f "
                "%I %p" + (f" (unknown: {', '.join(sorted(unknown))}; a time zone is not an "
                           "option: times without an offset are read as UTC)" if unknown else ""))
    return tuple(formats)


def parse_options(data: Any, where: str) -> FormatOptions:
    """The options of a parsed ``_format.yml``; raises :class:`FormatOptionsError`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FormatOptionsError(f"{where}: expected a mapping of options ({', '.join(OPTIONS)}), "
                                 f"got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in OPTIONS)
    if unknown:
        raise FormatOptionsError(f"{where}: unknown option(s) {', '.join(unknown)}; the options "
                                 f"are {', '.join(OPTIONS)} (README, \"File formats and dialects\")")
    kwargs: dict[str, Any] = {}
    if "encoding" in data:
        value = data["encoding"]
        try:
            if not isinstance(value, str):
                raise LookupError
            kwargs["encoding"] = codecs.lookup(value).name
        except LookupError:
            raise FormatOptionsError(f"{where}: encoding must be {OPTIONS['encoding']}, "
                                     f"got {value!r}") from None
    if "delimiter" in data:
        kwargs["delimiter"] = _one_char("delimiter", data["delimiter"], where)
    if "quote" in data:
        kwargs["quote"] = _one_char("quote", data["quote"], where)
    if "decimal" in data:
        if data["decimal"] not in (".", ","):
            raise FormatOptionsError(f"{where}: decimal must be {OPTIONS['decimal']}, "
                                     f"got {data['decimal']!r}")
        kwargs["decimal"] = data["decimal"]
    if "date_format" in data:
        kwargs["date_formats"] = _date_formats(data["date_format"], where)
    if kwargs.get("delimiter") and kwargs.get("delimiter") == kwargs.get("quote"):
        raise FormatOptionsError(f"{where}: delimiter and quote must differ")
    return FormatOptions(**kwargs, source=where)


def read_options(entity_folder: Path, entity: str) -> FormatOptions:
    """The options in ``<entity_folder>/_format.yml`` (defaults when there is none)."""
    path = entity_folder / FORMAT_FILE
    where = f"{entity}/{FORMAT_FILE}"
    for misnamed in ("_format.yaml", "_format.YML", "format.yml"):
        if (entity_folder / misnamed).is_file() and not path.is_file():
            raise FormatOptionsError(f"{where}: found {entity}/{misnamed} instead; the options "
                                     f"are read from {FORMAT_FILE} only: rename it")
    if not path.is_file():
        return FormatOptions()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise FormatOptionsError(f"{where}: is not valid YAML ("
                                 f"{str(exc).splitlines()[0]})") from exc
    return parse_options(data, where)


# --------------------------------------------------------------------------- paths in SQL


def glob_escaped(path: Path) -> str:
    """The path as DuckDB's readers take it literally: ``*``, ``?`` and ``[`` are glob
    characters there, escaped as one-character classes (``[*]``), so a file called
    ``x*.csv`` reads that file only. The result is bound as a parameter, never pasted."""
    return re.sub(r"([*?\[])", r"[\1]", str(path))


# ------------------------------------------------------------------------ transcoding

_workdir: tempfile.TemporaryDirectory | None = None
_transcoded: dict[tuple[str, int, int, str], Path] = {}


def _temp_dir() -> Path:
    global _workdir
    if _workdir is None:
        _workdir = tempfile.TemporaryDirectory(prefix="leadscore-landing-")
    return Path(_workdir.name)


def release() -> None:
    """Remove the transcoded copies (the end of a load; also at exit)."""
    global _workdir
    _transcoded.clear()
    if _workdir is not None:
        _workdir.cleanup()
        _workdir = None


atexit.register(release)


def open_bytes(path: Path):  # noqa: ANN201  (a binary file object)
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


class TranscodeError(ValueError):
    """A byte the folder's encoding cannot decode: (line, byte)."""

    def __init__(self, line: int, byte: int):
        super().__init__(f"line {line}: byte 0x{byte:02x}")
        self.line, self.byte = line, byte


def readable_path(path: Path, fmt: str, options: FormatOptions) -> Path:
    """The file DuckDB reads: the file itself, or a UTF-8 copy when its encoding is not
    UTF-8 or it is a JSON file starting with a byte-order mark (which DuckDB's JSON reader
    refuses). Copies live in a private temporary folder under names the loader chose."""
    needs_copy = not options.is_utf8 or (fmt == "json" and _starts_with_bom(path))
    if not needs_copy:
        return path
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, options.encoding)
    if key not in _transcoded:
        suffix = ".csv" if fmt == "csv" else ".json"
        target = _temp_dir() / f"file_{len(_transcoded):06d}{suffix}"
        decoder = codecs.getincrementaldecoder(options.encoding if not options.is_utf8
                                               else "utf-8-sig")("strict")
        with open_bytes(path) as source, target.open("w", encoding="utf-8", newline="") as out:
            for number, line in enumerate(source, 1):
                try:
                    out.write(decoder.decode(line))
                except UnicodeDecodeError as error:
                    raise TranscodeError(number, line[error.start]) from error
            out.write(decoder.decode(b"", final=True))
        _transcoded[key] = target
    return _transcoded[key]


def _starts_with_bom(path: Path) -> bool:
    try:
        with open_bytes(path) as handle:
            return handle.read(3) == b"\xef\xbb\xbf"
    except (OSError, EOFError):
        return False


def drop_copy(path: Path) -> None:
    """Forget (and delete) the copy of ``path``, if any."""
    for key in [k for k in _transcoded if k[0] == str(path)]:
        _transcoded.pop(key).unlink(missing_ok=True)


# ------------------------------------------------------------------- normalising values


def normalised(column_sql: str, column: str, options: FormatOptions) -> tuple[str, list[Any]]:
    """SQL (and its parameters) turning one text column of the folder's dialect into the
    contract's text: a decimal comma into a point (``1.234,50`` -> ``1234.50``), a date in
    one of ``date_format`` into ISO (``03/12/2026`` -> ``2026-12-03``). A value that does
    not fit stays as delivered, so staging quarantines it with its reason."""
    params: list[Any] = []
    sql = column_sql
    if options.decimal == "," and column in NUMERIC_COLUMNS:
        sql = (f"case when regexp_full_match(trim({column_sql}), "
               r"'[+-]?([0-9]+|[0-9]{1,3}([. ''][0-9]{3})+)(,[0-9]+)?') "
               f"then replace(regexp_replace(trim({column_sql}), '[. '']', '', 'g'), ',', '.') "
               f"else {column_sql} end")
    if options.date_formats and is_date_column(column):
        parts = []
        for fmt in options.date_formats:
            iso = "%Y-%m-%dT%H:%M:%S" if re.search(r"%[HIMS]", fmt) else "%Y-%m-%d"
            parts.append(f"strftime(try_strptime(trim({column_sql}), ?), ?)")
            params += [fmt, iso]
        sql = f"coalesce({', '.join(parts)}, {column_sql})"
    return sql, params


# ------------------------------------------------------------------------------ limits


def json_depth(text: str) -> int:
    """How deeply brackets nest in a JSON text (strings skipped); no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


# --------------------------------------------------------------------- dialect hints


def delimiter_hint(path: Path, options: FormatOptions, entity: str,
                   required: list[str]) -> str | None:
    """When the header, split by another delimiter, has the required columns: which
    ``delimiter`` option would load the file."""
    try:
        with open_bytes(path) as handle:
            header = handle.readline().decode(options.encoding if not options.is_utf8
                                              else "utf-8-sig", errors="replace")
    except (OSError, EOFError, LookupError):
        return None
    names = {name.strip().strip('"').lower() for name in header.split(options.delimiter or ",")}
    for candidate in (",", ";", "\t", "|"):
        if candidate == (options.delimiter or ","):
            continue
        split = {name.strip().strip('"').lower() for name in header.split(candidate)}
        if len(split) > 1 and set(required) <= split and not set(required) <= names:
            shown = "\\t" if candidate == "\t" else candidate
            return (f"the file looks {shown!r}-separated: set `delimiter: '{shown}'` in "
                    f"{options.where(entity)}")
    return None


def encoding_hint(options: FormatOptions, entity: str, byte: int) -> str:
    """Which ``encoding`` option would decode a byte, for messages."""
    guesses = []
    for codec in ("windows-1252", "latin-1"):
        try:
            guesses.append(f"{bytes([byte]).decode(codec)!r} in {codec}")
        except UnicodeDecodeError:
            continue
    guess = f" ({'; '.join(guesses)})" if guesses else ""
    return (f"the byte 0x{byte:02x}{guess} is not {options.encoding}: set the file's encoding, "
            f"e.g. `encoding: windows-1252`, in {options.where(entity)}")


def copy_format_file(source_folder: Path, target_folder: Path) -> None:
    """Copy a folder's ``_format.yml`` (``leadscore validate`` stages files elsewhere)."""
    source = source_folder / FORMAT_FILE
    if source.is_file() and not (target_folder / FORMAT_FILE).exists():
        target_folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target_folder / FORMAT_FILE)
