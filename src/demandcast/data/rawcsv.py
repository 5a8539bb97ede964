"""Open a raw CSV defensively and stream it as all-string chunks.

Everything that stops a file from being read as a table (missing, empty, not UTF-8,
missing columns, rows with the wrong number of fields, a cut-off last line) is found
here and described for a person; typing and value rules are the schemas' job. Chunks
are indexed by physical line number, so every later problem can point at a line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

BLOCK = 1 << 24  # bytes read at a time by the UTF-8 scan
GZIP = ".gz"  # a gzip-compressed CSV (``train.csv.gz``) is read as it is, by every stage


def locate(data_dir, name: str) -> Path | None:
    """``data_dir/name``, else its gzip-compressed ``name.gz``; None when neither exists."""
    for candidate in (Path(data_dir) / name, Path(data_dir) / (name + GZIP)):
        if candidate.is_file():
            return candidate
    return None


class Unreadable(Exception):
    """The file cannot be validated as a table; one clear problem explains why."""

    def __init__(self, check: str, message: str, fix: str, column: str | None = None,
                 examples: list[str] | None = None) -> None:
        super().__init__(message)
        self.check, self.message, self.fix = check, message, fix
        self.column, self.examples = column, examples or []


@dataclass
class BadRows:
    """Rows skipped for having the wrong number of fields."""

    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class CsvFile:
    path: Path
    header: list[str]
    ends_with_newline: bool
    last_line: str
    too_many: BadRows = field(default_factory=BadRows)
    too_few: BadRows = field(default_factory=BadRows)
    truncated: str | None = None  # the cut-off last line, when there is one
    skipped_lines: list[int] = field(default_factory=list)
    rows: int = 0  # rows read, malformed ones excluded


# Compressed files: (suffix or magic bytes) -> what they are and how to get the CSV out.
ARCHIVES = {".7z": ("a 7-Zip archive (Kaggle ships Favorita's files so)", "7z x {path} -o{folder}"),
            ".zip": ("a zip archive", "unzip {path} -d {folder}"),
            ".bz2": ("bzip2-compressed", "bunzip2 -k {path}"),
            ".xz": ("xz-compressed", "unxz -k {path}")}
MAGIC = {b"\x1f\x8b": ("gzip-compressed", ".gz"), b"PK\x03\x04": ("a zip archive", ".zip"),
         b"7z\xbc\xaf": ("a 7-Zip archive", ".7z"), b"BZh": ("bzip2-compressed", ".bz2"),
         b"\xfd7zXZ": ("xz-compressed", ".xz")}
SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "pipes"}


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(GZIP) else open(path, "rb")


def first_bad_utf8(path: Path, tail: bytearray | None = None) -> tuple[int, int, str] | None:
    """(byte offset, line number, the line around it) of the first non-UTF-8 byte, or None.

    A ``.gz`` file is read decompressed; ``tail`` (when given) receives the last 64 KiB.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    pos = lines = 0
    with _open_bytes(path) as f:
        while True:
            block = f.read(BLOCK)
            if tail is not None:
                tail[:] = (bytes(tail) + block)[-65536:]
            pending = decoder.getstate()[0]  # a multi-byte character split across blocks
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                data = exc.object
                begin = data.rfind(b"\n", 0, exc.start) + 1
                stop = data.find(b"\n", exc.start)
                line = data[begin:stop if stop >= 0 else len(data)][:120]
                number = lines + data.count(b"\n", len(pending), exc.start) + 1
                return pos - len(pending) + exc.start, number, repr(line)
            if not block:
                return None
            pos += len(block)
            lines += block.count(b"\n")


def _tail(path: Path, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(max(0, size - 65536))
        return f.read()


def _last_line(tail: bytes) -> tuple[bool, str]:
    return tail.endswith(b"\n"), tail.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].decode(
        "utf-8", "replace").rstrip("\r")


def _missing(folder: Path, name: str) -> Unreadable:
    """Why ``name`` cannot be found: absent, or there only in a form that is not read directly."""
    for suffix, (what, how) in ARCHIVES.items():
        packed = folder / (name + suffix)
        if packed.is_file():
            return Unreadable(
                "compressed file", f"{folder / name} does not exist, but {packed.name} does: it is {what}, "
                "which is not read directly (only .csv and .csv.gz are)",
                f"extract it into {folder}/: `{how.format(path=packed, folder=folder)}`; or gzip it "
                f"(`gzip {folder / name}` after extracting: {name}.gz is read as it is)")
    return Unreadable("file exists", f"{folder / name} does not exist",
                      f"put {name} into {folder}/ (or run `demandcast generate` for synthetic data), "
                      "or point paths.data at the folder that has it")


def _not_text(path: Path) -> Unreadable | None:
    """A compressed file under a plain ``.csv`` name."""
    with open(path, "rb") as f:
        head = f.read(8)
    for magic, (what, suffix) in MAGIC.items():
        if head.startswith(magic) and not (suffix == GZIP and path.name.endswith(GZIP)):
            fix = (f"rename it to {path.name}{GZIP} (read as it is) or decompress it (`gunzip -c`)"
                   if suffix == GZIP else f"rename it to {path.name}{suffix} and extract the CSV from it")
            return Unreadable("compressed file", f"{path.name} is {what} data, not CSV text", fix)
    return None


def _separator(name: str, line: str, columns: list[str]) -> Unreadable | None:
    """A header that holds the expected columns when split on another separator."""
    for sep, called in SEPARATORS.items():
        parts = [p.strip().strip('"') for p in line.rstrip("\r\n").split(sep)]
        if len(parts) > 1 and all(c in parts for c in columns):
            shown = "\\t" if sep == "\t" else sep
            return Unreadable(
                "separator", f"{name} is separated by {called} ({shown!r}), not commas: its header "
                f"{line.strip()[:120]!r} splits into {', '.join(parts)}",
                f"save {name} with commas between fields (a spreadsheet's 'CSV (comma delimited)'; or "
                f"`python -c \"import pandas as pd; pd.read_csv('{name}', sep='{shown}')"
                f".to_csv('{name}', index=False)\"`), keeping '.' as the decimal point",
                examples=[f"header: {line.strip()[:120]}"])
    return None


def open_checked(folder: Path, name: str, columns: list[str]) -> CsvFile:
    """Check that ``folder/name`` (or ``name.gz``) can be read as a CSV with ``columns``;
    raise :class:`Unreadable` with what is wrong and how to fix it."""
    path = locate(folder, name)
    if path is None:
        raise _missing(Path(folder), name)
    size = path.stat().st_size
    if size == 0:
        raise Unreadable("empty file", f"{path} is empty (0 bytes)",
                         f"the copy or export of {name} failed: write it again")
    packed = _not_text(path)
    if packed is not None:
        raise packed
    tail = bytearray()
    bad = first_bad_utf8(path, tail if path.name.endswith(GZIP) else None)
    if bad is not None:
        offset, line, text = bad
        raise Unreadable(
            "encoding", f"{name} is not UTF-8: the first bad byte is at byte offset {offset:,} "
            f"(line {line})", f"re-save {name} as UTF-8 (e.g. `iconv -f latin1 -t utf-8`, or "
            "'CSV UTF-8' in a spreadsheet)", examples=[f"line {line}: {text}"])
    with _open_bytes(path) as f:
        first = f.readline().decode("utf-8-sig")
    header = next(csv.reader([first]), [])
    missing = [c for c in columns if c not in header]
    if missing:
        raise _separator(name, first, columns) or Unreadable(
            "missing column", f"{name} lacks column(s) {', '.join(missing)}; "
            f"its header is: {', '.join(header) or '(blank)'}",
            f"the header of {name} must name {', '.join(columns)} (Kaggle Favorita's schema): "
            "rename or add the column(s)", column=", ".join(missing),
            examples=[f"found: {', '.join(header)}"])
    ends_with_newline, last_line = _last_line(
        bytes(tail) if path.name.endswith(GZIP) else _tail(path, size))
    return CsvFile(path, header, ends_with_newline, last_line)


def _note_bad_row(file: CsvFile, max_examples: int):
    def handler(row) -> str:
        if row.number is not None:  # pyarrow knows it when reading single-threaded
            file.skipped_lines.append(row.number)
        example = f"line {row.number}: {row.text[:120]!r} has {row.actual_columns} fields"
        last = row.text == file.last_line and not file.ends_with_newline
        if row.actual_columns < row.expected_columns and last:
            file.truncated = example
            return "skip"
        bad = file.too_many if row.actual_columns > row.expected_columns else file.too_few
        bad.count += 1
        if len(bad.examples) < max_examples:
            bad.examples.append(example)
        return "skip"

    return handler


def _lines(file: CsvFile, first_row: int, n: int) -> pd.Index:
    """Physical line numbers of rows ``first_row .. first_row + n - 1`` (header is line 1)."""
    rows = np.arange(first_row, first_row + n, dtype=np.int64)
    # The i-th skipped line falls just before kept row (line - i - 2).
    skips = np.asarray(file.skipped_lines, dtype=np.int64)
    before = skips - np.arange(len(skips)) - 2
    return pd.Index(rows + 2 + np.searchsorted(before, rows, side="right"), name="line")


def chunks(file: CsvFile, columns: list[str], chunk_rows: int,
           max_examples: int) -> Iterator[pd.DataFrame]:
    """Stream ``columns`` as string chunks of ``chunk_rows`` rows, indexed by line number.

    Rows with the wrong number of fields are skipped and counted on ``file``; a file that
    cannot be parsed at all raises :class:`Unreadable`.
    """
    reader_opts = pacsv.ReadOptions(use_threads=False)  # keeps skipped lines in order
    parse_opts = pacsv.ParseOptions(invalid_row_handler=_note_bad_row(file, max_examples))
    convert_opts = pacsv.ConvertOptions(column_types={c: pa.string() for c in columns},
                                        include_columns=columns, strings_can_be_null=True)
    pending: list[pa.RecordBatch] = []
    held = 0
    try:
        reader = pacsv.open_csv(file.path, reader_opts, parse_opts, convert_opts)
        for batch in reader:
            pending.append(batch)
            held += batch.num_rows
            while held >= chunk_rows:
                table = pa.Table.from_batches(pending)
                yield _frame(file, table.slice(0, chunk_rows))
                rest = table.slice(chunk_rows)
                pending, held = rest.to_batches(), rest.num_rows
    except pa.ArrowInvalid as exc:
        raise Unreadable("csv syntax", f"{file.path.name} cannot be parsed: {exc}",
                         f"repair {file.path.name} (unbalanced quotes?) or export it again",
                         examples=[str(exc)[:200]]) from None
    if held:
        yield _frame(file, pa.Table.from_batches(pending))


def _frame(file: CsvFile, table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    frame.index = _lines(file, file.rows, len(frame))
    file.rows += len(frame)
    return frame
