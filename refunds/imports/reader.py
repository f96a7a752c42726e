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
import itertools
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
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
    # why the row cannot be read as it stands ("" when it can), for the import to reject it
    # rather than read it askew or drop one of its cells: a non-empty cell beyond the
    # header's last column (an unquoted comma shifted the row), or two columns of one name
    # that disagree
    problem: str = ""

    def get(self, column: str, default: str = "") -> str:
        return self.cells.get(column, default)


@dataclass
class ExportFile:
    """An export, read a pass at a time: its encoding, its header and (lazily) its records.

    Nothing holds the whole file: each pass (`records`) decodes it again from its start,
    a block at a time, so a 100,000-row export takes a few MiB, not the ~150 MiB its text
    would, and a file of a million rows imports like one of a thousand. Decoding again is
    cheap (GB18030 decodes at ~300 MiB/s here); a pass costs what parsing its CSV costs.
    """

    name: str
    encoding: str
    source: _Source
    codec: str | None = None  # None: a text stream the caller already decoded
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

    def _repeats(self, wanted: set[str] | None) -> dict[str, list[int]]:
        """{name: the indexes of its later columns} for each wanted name the header repeats
        (a hand-made file: the platforms' exports name each column once)."""
        indexes: dict[str, list[int]] = {}
        for index, name in enumerate(self.header):
            if name and (wanted is None or name in wanted):
                indexes.setdefault(name, []).append(index)
        return {name: found[1:] for name, found in indexes.items() if len(found) > 1}

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
        try:
            with self.lines() as lines:
                yield from self._records(csv.reader(lines), only)
        except UnicodeDecodeError:  # it decoded whole when it was opened: it changed since
            raise ImportFileError(
                _("The file no longer reads as %(encoding)s: it was changed while it was "
                  "being imported. Nothing more of it was read.")
                % {"encoding": self.encoding}
            ) from None

    def lines(self) -> AbstractContextManager[Iterator[str]]:
        """The file's lines, decoded, from its start (one pass: see the class)."""
        return self.source.lines(self.codec)

    def _records(self, reader, only: Iterable[str] | None) -> Iterator[Record]:
        positions = self._positions()
        wanted = None if only is None else set(only)
        if wanted is not None:
            positions = [(index, name) for index, name in positions if name in wanted]
        repeats = self._repeats(wanted)
        header_width = len(self.header)
        try:
            next(reader)  # the header, already read by read_export
            previous_end = reader.line_num
            for cells in reader:
                start, previous_end = previous_end + 1, reader.line_num
                if not "".join(cells).strip():
                    continue
                # Missing trailing cells are empty; empty cells beyond the header (a trailing
                # comma) are nothing; a non-empty one makes the row's problem.
                problem = ""
                if len(cells) > header_width:
                    beyond = next((cell.strip() for cell in cells[header_width:]
                                   if cell.strip()), "")
                    if beyond:
                        problem = _(
                            "the row has more cells than the header: “%(cell)s” is under no "
                            "column (a comma in a cell without quotes shifts the row); "
                            "nothing of it was imported") % {"cell": _shorten(beyond)}
                elif len(cells) < header_width:
                    cells = cells + [""] * (header_width - len(cells))
                # clean_cell, inlined (it runs for every cell of the file): strip, and only
                # a cell starting with "=" can hold the spreadsheet guard.
                values = {
                    name: value if (value := cells[index].strip())[:1] != "="
                    else clean_cell(value)
                    for index, name in positions
                }
                if repeats:
                    problem = problem or _merge_repeats(values, cells, repeats)
                yield Record(start, values, problem)
        except csv.Error as error:
            raise ImportFileError(
                _("Line %(line)s cannot be read as CSV: %(error)s")
                % {"line": reader.line_num, "error": error}
            ) from None


def _shorten(cell: str) -> str:
    return cell if len(cell) <= 50 else cell[:49] + "…"


def _merge_repeats(values: dict[str, str], cells: list[str],
                   repeats: dict[str, list[int]]) -> str:
    """Read a repeated column from whichever of its columns holds a value; when two hold
    different values, which one is meant is unclear: that is the row's problem."""
    for name, indexes in repeats.items():
        for index in indexes:
            other = clean_cell(cells[index])
            if not other or other == values[name]:
                continue
            if not values[name]:
                values[name] = other
                continue
            return _("the header has two “%(column)s” columns and this row holds different "
                     "values in them (“%(first)s” and “%(second)s”): which one is meant is "
                     "unclear; nothing of the row was imported") % {
                "column": name, "first": _shorten(values[name]), "second": _shorten(other)}
    return ""


def clean_cell(value: str) -> str:
    """Strip spaces and tabs and unwrap the spreadsheet guard `="…"`."""
    value = value.strip()
    if value[:1] == "=":
        match = _SPREADSHEET_TEXT.match(value)
        if match:
            value = match.group(1).strip()
    return value


BLOCK = 1024 * 1024  # bytes read and decoded at a time


def detect_encoding(raw: bytes) -> tuple[str, str]:
    """(label, codec) of an export held in memory; see `_detect`."""
    return _detect(_Source(io.BytesIO(raw), "bytes"))


def _detect(source: _Source) -> tuple[str, str]:
    """(label, codec) of an export; never guesses lossily.

    GBK files are decoded as GB18030, its superset, so a rare character is never lost; the
    label still says "gbk" when the file is plain GBK. A candidate is kept only when the
    whole file decodes with it (read a block at a time: UTF-8 fails on a GBK file's first
    Chinese character, so a GBK file is read about once here).
    """
    with source.binary() as stream:
        head = stream.read(65536)
    if head.startswith(codecs.BOM_UTF8):
        label = codec = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        label = codec = "utf-16"
    else:
        if b"\x00" in head:
            raise ImportFileError(_("The file is not a text export (it contains NUL bytes)."))
        for label, codec in (("utf-8", "utf-8"), ("gbk", "gb18030"), ("gb18030", "gb18030")):
            if _first_undecodable_byte(source, label) is None:
                return label, codec
        raise ImportFileError(
            _("The file's encoding could not be recognised (expected UTF-8, GBK or GB18030).")
        )
    position = _first_undecodable_byte(source, codec)
    if position is not None:  # a byte-order mark on a file that is not UTF-8 or UTF-16
        raise ImportFileError(  # after it (an editor added it to a GBK file)
            _("The file starts as %(encoding)s but byte %(position)s is not: save it "
              "again as UTF-8 or GBK.") % {"encoding": label, "position": position}
        )
    return label, codec


def _first_undecodable_byte(source: _Source, codec: str) -> int | None:
    """The offset of the first byte `codec` cannot decode, or None when all of it decodes."""
    offset = 0  # of the first byte the decoder has not consumed yet
    if codec == "utf-8-sig":  # past the mark, so that the offset counts it
        codec, offset = "utf-8", len(codecs.BOM_UTF8)
    decoder = codecs.getincrementaldecoder(codec)()
    with source.binary() as stream:
        stream.read(offset)
        while True:
            block = stream.read(BLOCK)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as error:
                return offset - pending + error.start
            if not block:
                return None
            offset += len(block)


class _Borrowed(io.RawIOBase):
    """The caller's binary file (an upload), read through but never closed: closing the text
    stream made over it for one pass must leave the file to its owner for the next pass."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._file.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class _Source:
    """Where an export's bytes are: a path, opened for each pass, or a seekable file (an
    upload), read again from its start for each pass."""

    def __init__(self, path_or_file: Any, name: str) -> None:
        self.path_or_file = path_or_file
        self.name = name

    @classmethod
    def of(cls, path_or_file: Any) -> _Source:
        if isinstance(path_or_file, str | os.PathLike):
            path = Path(path_or_file)
            try:
                with path.open("rb"):
                    pass
            except OSError as error:
                raise ImportFileError(
                    _("The file cannot be opened: %(error)s")
                    % {"error": error.strerror or error}
                ) from None
            return cls(path, path.name)
        name = os.path.basename(str(getattr(path_or_file, "name", "") or "upload.csv"))
        return cls(path_or_file, name)

    @property
    def is_text(self) -> bool:
        """A text stream the caller already decoded (io.StringIO in a shell, say)."""
        file = self.path_or_file
        if isinstance(file, Path):
            return False
        file.seek(0)
        return isinstance(file.read(0), str)

    @contextmanager
    def binary(self) -> Iterator[IO[bytes]]:
        if isinstance(self.path_or_file, Path):
            with self.path_or_file.open("rb") as stream:
                yield stream
        else:
            self.path_or_file.seek(0)
            with io.BufferedReader(_Borrowed(self.path_or_file), BLOCK) as stream:
                yield stream

    @contextmanager
    def lines(self, codec: str | None) -> Iterator[Iterator[str]]:
        """The decoded lines, line ends kept (what `csv.reader` reads), without a leading
        byte-order mark (the UTF-16 codec may leave one; a text stream may hold one)."""
        if codec is None:  # already text, so in memory: read as StringIO reads it (any
            file = self.path_or_file  # line end, a lone CR included)
            file.seek(0)
            yield _without_bom(io.StringIO(file.read(), newline=""))
            return
        # closing the text stream closes the binary one (a path's file, or the `_Borrowed`
        # view of an upload, which leaves the upload open)
        with self.binary() as stream, io.TextIOWrapper(stream, encoding=codec,
                                                        newline="") as text:
            yield _without_bom(text)


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        return iter(())
    return itertools.chain([first.removeprefix("\ufeff")], lines)


def read_export(path_or_file: Any) -> ExportFile:
    """Open an export file (a path, or a seekable binary file such as an upload): its
    encoding, its header, and a strict CSV pass over the whole of it (`check_csv`)."""
    source = _Source.of(path_or_file)
    if source.is_text:
        export = ExportFile(name=source.name, encoding="text", source=source)
    else:
        encoding, codec = _detect(source)
        export = ExportFile(name=source.name, encoding=encoding, source=source, codec=codec)
    try:
        with export.lines() as lines:
            header = next(csv.reader(lines), [])
    except csv.Error as error:
        raise ImportFileError(
            _("The header cannot be read as CSV: %(error)s") % {"error": error}
        ) from None
    export.header = [clean_cell(name) for name in header]
    if not any(export.header):
        raise ImportFileError(_("The file is empty."))
    with export.lines() as lines:
        check_csv(lines)
    return export


def check_csv(lines: Iterable[str]) -> None:
    """Refuse, before any row is imported, a file that is not well-formed CSV.

    The rows are read leniently (`records`), and leniency loses rows without a word: a
    quote that opens a cell and never closes (a hand-edited export, `"请尽快发货` typed
    into a spreadsheet) makes the rest of the file one cell of that row — the rows after it
    would simply not exist. Read strictly once (0.2 s for 100,000 order rows), such a file
    is refused whole, naming the line where the quote opened."""
    reader = csv.reader(lines, strict=True)
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
