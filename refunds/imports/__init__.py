"""Platform export readers: encoding, columns, rows → dicts (no database writes here).

`reader` decodes a file and yields its records with line numbers; `rows` says what each
export's columns mean. The imports themselves are `refunds.services.imports`.
"""

from .reader import ExportFile, ImportFileError, Record, detect_encoding, read_export
from .rows import RowError

__all__ = ["ExportFile", "ImportFileError", "Record", "RowError", "detect_encoding",
           "read_export"]
