"""Reading the user's files: strict text decoding, hidden-file filtering, CSVs with file:line errors.

Every reader goes through these helpers, so one rule holds everywhere: UTF-8 (with or without a
byte-order mark) and UTF-16 with a byte-order mark are read as they are; anything else stops with
the file, line and bytes that do not decode.  Nothing is decoded with replacement characters.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from hanrock_core.base.errors import InputError

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_CP1252_ONLY = set(range(0x80, 0xA0))  # bytes that are printable in cp1252 and never start a UTF-8 sequence
REPLACEMENT = "\ufffd"
_PARSER_LINE = re.compile(r"line (\d+)")


def is_hidden(path: Path) -> bool:
    """Names starting with '.' (macOS AppleDouble `._x.txt`, `.DS_Store`) are never data."""
    return path.name.startswith(".")


def visible(paths: Iterable[Path]) -> list[Path]:
    """`paths` without hidden names, sorted."""
    return sorted(p for p in paths if not is_hidden(p))


BLOCK_BYTES = 1 << 20  # a file is read in blocks, each looked at for NUL bytes before the next is read


def _refuse_nul(path: Path, block: bytes, at: int, offset: int, lines_before: int) -> None:
    """A NUL byte at `at` of a block (read from byte `offset`) in a file without a UTF-16 byte-order mark:
    UTF-16 text (every other byte NUL) or not text at all (zero-filled, sparse or binary), said with the
    line it is on; refused as soon as the block holding it is read, never after reading the whole file."""
    line = lines_before + block.count(b"\n", 0, at) + 1
    window = block[at - at % 2 : at - at % 2 + (1 << 16)]
    even, odd = window[0::2], window[1::2]
    utf16 = min(even.count(0), odd.count(0)) < 0.1 * len(odd) < max(even.count(0), odd.count(0))
    if utf16:
        raise InputError(
            "the file holds NUL characters: it is probably UTF-16 without a byte-order mark",
            path,
            line,
            hint="save it as UTF-8 (or as UTF-16 with a byte-order mark)",
        )
    raise InputError(
        f"the file is not text: it holds NUL bytes (the first at byte {offset + at:,}; "
        f"{window.count(0) / len(window):.0%} of the {len(window):,} bytes from there)",
        path,
        line,
        hint="the file is damaged or is not the tool's output (a disk image, an archive, a file cut or padded "
        "by a full disk?): restore it from its source",
    )


def _text_bytes(handle, path: Path) -> bytes:
    """Every byte of an open file, block by block, refusing NUL bytes where no UTF-16 byte-order mark allows them."""
    blocks, offset, lines = [], 0, 0
    while block := handle.read(BLOCK_BYTES):
        if offset == 0 and any(block.startswith(bom) for bom, enc in _BOMS if enc == "utf-16"):
            return block + handle.read()  # UTF-16: NUL bytes are half its characters
        if b"\x00" in block:
            _refuse_nul(path, block, block.index(b"\x00"), offset, lines)
        blocks.append(block)
        offset += len(block)
        lines += block.count(b"\n")
    return b"".join(blocks)


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    """The bytes of `path`; a missing file, a directory, a symlink loop or a file that is not text is an
    InputError naming it."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return _text_bytes(handle, path)
    except IsADirectoryError:
        raise InputError(f"expected a {what} but found a directory", path) from None
    except OSError as exc:
        raise InputError(
            f"cannot read {what}: {exc.strerror or exc}",
            path,
            hint="check that the path exists, is readable and is not a symlink loop",
        ) from None


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def decode(data: bytes, path: str | Path) -> str:
    """Text of a file's bytes: UTF-8 (BOM optional) or UTF-16 with a BOM, else a clear error."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.end]
        hint = "save the file as UTF-8"
        if encoding == "utf-8" and bad and bad[0] in _CP1252_ONLY:
            hint = (
                "it looks like Windows-1252 (curly quotes, dashes): convert it, e.g. "
                f"`iconv -f cp1252 -t utf-8 {Path(path).name} > fixed.txt`"
            )
        line = _line_of(data, exc.start) if encoding == "utf-8" else None
        raise InputError(
            f"bytes {bad.hex(' ')} do not decode as {encoding.replace('-sig', '')} ({exc.reason})",
            path,
            line,
            hint=hint,
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(
            "the file holds NUL characters: it is probably UTF-16 without a byte-order mark",
            path,
            line,
            hint="save it as UTF-8 (or as UTF-16 with a byte-order mark)",
        )
    if REPLACEMENT in text:
        line = text.count("\n", 0, text.index(REPLACEMENT)) + 1
        raise InputError(
            "the text holds U+FFFD replacement characters: an earlier conversion lost the original characters",
            path,
            line,
            hint="take the file from the original source again",
        )
    return text


def read_text(path: str | Path, what: str = "file") -> str:
    """The decoded text of a user file (see `decode`)."""
    return decode(read_bytes(path, what), path)


def record_lines(text: str, records: int) -> np.ndarray:
    """The physical line on which each data record of a CSV text starts (a quoted cell may span lines).

    Blank lines are skipped as pandas skips them; where the count still disagrees with the
    `records` pandas read (an unusual dialect), one line per record after the header is assumed.
    """
    reader = csv.reader(io.StringIO(text))
    starts, previous = [], 0
    try:
        for row in reader:
            if row:
                starts.append(previous + 1)
            previous = reader.line_num
    except csv.Error:
        starts = []
    if len(starts) != records + 1:
        return np.arange(2, records + 2)
    return np.asarray(starts[1:], dtype=np.int64)


def read_csv_file(path: str | Path, what: str, index_by_line: bool = False, **read_kwargs) -> pd.DataFrame:
    """A CSV file decoded strictly and parsed by pandas; parse errors name the file and line.

    With `index_by_line` the frame's index is the physical line each record starts on, so that a
    reader can name the line of a bad cell even after a quoted cell that spans lines."""
    text = read_text(path, what)
    if not text.strip():
        raise InputError(f"the {what} is empty", path, hint="restore the file, or remove it if it holds no data")
    if read_kwargs.get("header", "infer") is not None:
        _refuse_duplicate_columns(text, path, what)
    try:
        frame = pd.read_csv(io.StringIO(text), **read_kwargs)
        if index_by_line:
            frame.index = pd.Index(record_lines(text, len(frame)), name="line")
        return frame
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        found = _PARSER_LINE.search(str(exc))
        raise InputError(
            f"cannot parse {what}: {str(exc).strip()}",
            path,
            int(found[1]) if found else None,
            hint="a decimal comma ('0,5') or an unquoted comma in a cell splits the row: "
            "use '.' for decimals and quote cells that hold commas",
        ) from None


def _refuse_duplicate_columns(text: str, path: str | Path, what: str) -> None:
    """A header naming one column twice: pandas would read the second as `name.1` and ignore it."""
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error:
        return  # the parser names the problem
    seen = set()
    for name in (cell.strip() for cell in header):
        if name and name in seen:
            raise InputError(
                f"the {what}'s header names column {name!r} twice",
                path,
                1,
                name,
                hint="rename or remove one of them: which one holds the data cannot be guessed",
            )
        seen.add(name)


def refuse_empty_table(frame: pd.DataFrame, path: str | Path, what: str) -> None:
    """A CSV with a header and no rows holds no data: refused rather than read as nothing."""
    if len(frame) == 0:
        raise InputError(
            f"the {what} has a header but no rows",
            path,
            2,
            hint="restore the rows, or remove the file if it holds no data",
        )


def _line(lines, first_line: int, i: int) -> int:
    return int(lines[i]) if lines is not None else first_line + i


def _parsed_numbers(
    values: pd.Series, path: str | Path, column: str, what: str, first_line: int, integer: bool, lines=None
) -> pd.Series:
    """`numbers` for a column a parser already read as numbers: only infinities and fractions remain to refuse."""
    out = values.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(out)
    bad = (~finite & ~np.isnan(out)) | (finite & integer & (out != np.floor(np.where(finite, out, 0.0))))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        words = (
            "must be an integer" if np.isfinite(out[i]) else "is not a finite number (infinite or beyond float range)"
        )
        raise InputError(f"{what} {values.iloc[i]!r} {words}", path, _line(lines, first_line, i), column)
    return pd.Series(out, index=values.index, dtype="float64")


def numbers(
    values: pd.Series,
    path: str | Path,
    column: str,
    what: str = "value",
    first_line: int = 2,
    integer: bool = False,
    lines=None,
) -> pd.Series:
    """Parse a column of numbers; empty cells stay missing, anything else that is not a finite number stops.

    Catches decimal commas, `NaN` written out, `inf`, numbers beyond float range and, with `integer`,
    fractions.  `first_line` is the file line of the first row (2 under a header); `lines`, where
    given, is each row's own line (records that span lines).
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return _parsed_numbers(values, path, column, what, first_line, integer, lines)
    text = values.astype("string").str.strip()
    present = (text.notna() & (text != "")).to_numpy(dtype=bool, na_value=False)
    parsed = pd.to_numeric(text.where(pd.Series(present, index=text.index)), errors="coerce")
    out = pd.Series(parsed, index=values.index).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(out)
    problems = (
        (present & np.isnan(out), "is not a number"),
        (present & ~finite & ~np.isnan(out), "is not a finite number (infinite or beyond float range)"),
        (present & finite & integer & (out != np.floor(np.where(finite, out, 0.0))), "must be an integer"),
    )
    hits = [(int(np.flatnonzero(mask)[0]), words) for mask, words in problems if mask.any()]
    if hits:
        i, words = min(hits)
        raw = values.iloc[i]
        problem = f"{what} {raw!r} {words}"
        if isinstance(raw, str) and re.fullmatch(r"\s*[-+]?\d+,\d+\s*", raw):
            problem += " (a decimal comma? write 0.5, not 0,5)"
        raise InputError(problem, path, _line(lines, first_line, i), column)
    return pd.Series(out, index=values.index, dtype="float64")


def read_tool_csv(path: str | Path, tool: str, required, hint: str | None = None, **read_kwargs) -> pd.DataFrame:
    """A preprocessing tool's CSV with column names stripped; unreadable files and missing columns are named."""
    frame = read_csv_file(path, f"{tool} CSV", skipinitialspace=True, **read_kwargs)
    frame.columns = [str(c).strip() for c in frame.columns]
    for name in required:
        if name not in frame.columns:
            raise InputError(f"{tool} CSV lacks column {name!r}", path, 1, name, hint=hint)
    return frame
