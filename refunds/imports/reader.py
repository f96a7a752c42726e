"""Reading a platform export file: encoding, CSV records, cells, line numbers.

The seller centres export GBK or GB18030 (names with rare characters such as 𠮷), sometimes
UTF-8 with a BOM; CRLF line ends; quoted fields holding commas and newlines; numbers that
spreadsheets would mangle written as `="3900000000010000004"`. Nothing here knows what a
column means: that is `refunds.imports.rows`.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..exceptions import DomainError

# A field this large is a broken file (an unbalanced quote swallowing the rest), not data.
csv.field_size_limit(1024 * 1024)

_SPREADSHEET_TEXT = re.compile(r'^=\s*"(.*)"$', re.S)


class ImportFileError(DomainError):
    """The whole file is refused (unreadable, a required column missing, another shop's)."""


class Record(NamedTuple):
    """One CSV record: the physical line it starts on (the header is line 1) and its cells.

    A NamedTuple rather than a frozen dataclass: one is made per row of a 100,000-row
    export, and a frozen dataclass costs several times more to create.
    """

    line: int
    cells: dict[str, str]
    # the first non-empty cell beyond the header's last column ("" when none): a row that
    # an unquoted comma shifted, which the import rejects rather than read askew
    beyond: str = ""

    def get(self, column: str, default: str = "") -> str:
        return self.cells.get(column, default)


@dataclass
class ExportFile:
    """A decoded export: its encoding, its header and (lazily) its records."""

    name: str
    encoding: str
    text: str
    header: list[str] = field(default_factory=list)

    @property
    def columns(self) -> set[str]:
        return set(self.header)

    def _positions(self) -> list[tuple[int, str]]:
        """(index, name) of each named column; a repeated name keeps its first column."""
        seen: dict[str, int] = {}
        for index, name in enumerate(self.header):
            if name and name not in seen:
                seen[name] = index
        return [(index, name) for name, index in seen.items()]

    def require(self, columns: Iterable[str]) -> None:
        missing = [column for column in columns if column not in self.columns]
        if missing:
            raise ImportFileError(
                ngettext("The file has no “%(columns)s” column (is it the right kind of "
                         "export?).",
                         "The file has no “%(columns)s” columns (is it the right kind of "
                         "export?).", len(missing))
                % {"columns": "”, “".join(missing)}
            )

    def records(self, only: Iterable[str] | None = None) -> Iterator[Record]:
        """Every non-empty record after the header, with the line number where it starts.

        `only`: the columns wanted (the others are not even cleaned: a 37-column order
        export read 100,000 rows at a time).
        """
        reader = csv.reader(io.StringIO(self.text, newline=""))
        positions = self._positions()
        if only is not None:
            wanted = set(only)
            positions = [(index, name) for index, name in positions if name in wanted]
        width = max((index + 1 for index, _name in positions), default=0)
        header_width = len(self.header)
        try:
            next(reader)  # the header, already read by read_export
            previous_end = reader.line_num
            for cells in reader:
                start, previous_end = previous_end + 1, reader.line_num
                if not "".join(cells).strip():
                    continue
                # Missing trailing cells are empty; empty cells beyond the header (a trailing
                # comma) are nothing; a non-empty one is kept in `beyond`, for the import to
                # reject the row with it.
                beyond = ""
                if len(cells) > header_width:
                    beyond = next((cell.strip() for cell in cells[header_width:]
                                   if cell.strip()), "")
                elif len(cells) < width:
                    cells = cells + [""] * (width - len(cells))
                # clean_cell, inlined (it runs for every cell of the file): strip, and only
                # a cell starting with "=" can hold the spreadsheet guard.
                yield Record(start, {
                    name: value if (value := cells[index].strip())[:1] != "="
                    else clean_cell(value)
                    for index, name in positions
                }, beyond)
        except csv.Error as error:
            raise ImportFileError(
                _("Line %(line)s cannot be read as CSV: %(error)s")
                % {"line": reader.line_num, "error": error}
            ) from None


def clean_cell(value: str) -> str:
    """Strip spaces and tabs and unwrap the spreadsheet guard `="…"`."""
    value = value.strip()
    if value[:1] == "=":
        match = _SPREADSHEET_TEXT.match(value)
        if match:
            value = match.group(1).strip()
    return value


def detect_encoding(raw: bytes) -> tuple[str, str]:
    """(label, codec) of an export; never guesses lossily.

    GBK files are decoded as GB18030, its superset, so a rare character is never lost; the
    label still says "gbk" when the file is plain GBK.
    """
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "utf-16"
    if b"\x00" in raw[:65536]:
        raise ImportFileError(_("The file is not a text export (it contains NUL bytes)."))
    for label, codec in (("utf-8", "utf-8"), ("gbk", "gb18030"), ("gb18030", "gb18030")):
        try:
            raw.decode(label)
        except UnicodeDecodeError:
            continue
        return label, codec
    raise ImportFileError(
        _("The file's encoding could not be recognised (expected UTF-8, GBK or GB18030).")
    )


def _read_bytes(path_or_file: Any) -> tuple[bytes | str, str]:
    if isinstance(path_or_file, str | os.PathLike):
        path = Path(path_or_file)
        try:
            return path.read_bytes(), path.name
        except OSError as error:
            raise ImportFileError(
                _("The file cannot be opened: %(error)s") % {"error": error.strerror or error}
            ) from None
    file: IO = path_or_file
    if hasattr(file, "seek"):
        file.seek(0)
    data = file.read()
    name = os.path.basename(str(getattr(file, "name", "") or "upload.csv"))
    return data, name


def read_export(path_or_file: Any) -> ExportFile:
    """Read and decode an export file (a path, or a binary file such as an upload)."""
    data, name = _read_bytes(path_or_file)
    if isinstance(data, str):  # already decoded by the caller (a text stream)
        encoding, text = "text", data.removeprefix("\ufeff")
    else:
        encoding, codec = detect_encoding(data)
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as error:  # a byte-order mark on a file that is not UTF-8
            raise ImportFileError(  # or UTF-16 after it (an editor added it to a GBK file)
                _("The file starts as %(encoding)s but byte %(position)s is not: save it "
                  "again as UTF-8 or GBK.") % {"encoding": encoding, "position": error.start}
            ) from None
        if encoding == "utf-16":
            text = text.removeprefix("\ufeff")
    export = ExportFile(name=name, encoding=encoding, text=text)
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error as error:
        raise ImportFileError(
            _("The header cannot be read as CSV: %(error)s") % {"error": error}
        ) from None
    export.header = [clean_cell(name) for name in header]
    if not any(export.header):
        raise ImportFileError(_("The file is empty."))
    check_csv(text)
    return export


def check_csv(text: str) -> None:
    """Refuse, before any row is imported, a file that is not well-formed CSV.

    The rows are read leniently (`records`), and leniency loses rows without a word: a
    quote that opens a cell and never closes (a hand-edited export, `"请尽快发货` typed
    into a spreadsheet) makes the rest of the file one cell of that row — the rows after it
    would simply not exist. Read strictly once (0.2 s for 100,000 order rows), such a file
    is refused whole, naming the line where the quote opened."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for _cells in reader:
            start = reader.line_num + 1
    except csv.Error as error:
        if str(error) == "unexpected end of data":
            raise ImportFileError(
                _("A quote (\") opened on line %(line)s is never closed, so the rest of the "
                  "file would be read as one cell: nothing was imported. Fix that line and "
                  "import the file again.") % {"line": start}
            ) from None
        raise ImportFileError(
            _("Line %(line)s cannot be read as CSV: %(error)s")
            % {"line": reader.line_num, "error": error}
        ) from None
