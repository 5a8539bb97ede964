"""Raw files in Favorita's schema for the validation tests: a small generated set and ways to break it."""

from __future__ import annotations

from pathlib import Path

AS_OF = "2024-01-01"
SMALL = {"n_stores": 3, "n_items": 20, "start": "2022-01-01", "end": "2022-06-30",
         "calendar_until": "2022-12-31", "promo_tracking_start": "2022-03-01",
         "chunk_days": 30, "rows": {"min": 1000, "max": 1_000_000}}
# The same settings for main() / the CLI, which start from params.yaml.
OVERRIDES = [f"data.{k}={v}" for k, v in SMALL.items() if k in ("start", "end")] + [
    "data.rows.min=1000", "data.rows.max=1000000", f"validate.as_of={AS_OF}"]


def edit_line(path: Path, number: int, change) -> None:
    """Replace physical line ``number`` (1 = header) with ``change(line)``."""
    lines = path.read_text().split("\n")
    lines[number - 1] = change(lines[number - 1])
    path.write_text("\n".join(lines))


def set_field(index: int, value: str):
    return lambda line: ",".join(value if i == index else f for i, f in enumerate(line.split(",")))


def corrupt_train(number: int, field: int, value: str):
    return lambda d: edit_line(d / "train.csv", number, set_field(field, value))


def truncate(path: Path) -> None:
    text = path.read_text().rstrip("\n")
    path.write_text(text[: text.rindex(",") - 2])


def append_copy(path: Path, number: int) -> None:
    """Append a copy of data row ``number`` (1 = first row after the header)."""
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[number]]) + "\n")


def latin1(path: Path) -> None:
    """End line 2 with a Latin-1 'é', as a spreadsheet's default CSV export writes it."""
    lines = path.read_bytes().split(b"\n")
    lines[1] += b"\xe9"
    path.write_bytes(b"\n".join(lines))


def map_column(path: Path, column: str, change) -> None:
    """Rewrite every value of ``column`` with ``change(value)`` (a whole-file export problem)."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    i = header.index(column)
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        row[i] = change(row[i])
    path.write_text("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n")


def us_date(value: str) -> str:
    year, month, day = value.split("-")
    return f"{month}/{day}/{year}"


def semicolons(path: Path) -> None:
    """The file as a European spreadsheet exports it: ';' between fields."""
    path.write_text(path.read_text().replace(",", ";"))


def gzip_as(path: Path, target: Path) -> None:
    import gzip

    data = path.read_bytes()
    path.unlink()
    target.write_bytes(gzip.compress(data, mtime=0))
