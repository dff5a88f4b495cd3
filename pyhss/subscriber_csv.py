"""The subscriber CSV format of ``pyhss-admin import`` and ``export``.

One header row naming columns among :data:`CSV_COLUMNS` (``imsi`` and
``k`` required, any order, names case-insensitive), then one subscriber per
row.  Empty cells take the defaults of ``subscriber add``.  APN names are
separated by ``;`` or spaces; flags are ``true``/``false`` (also
``yes``/``no``, ``1``/``0``).  ``export`` writes every column, so that
importing an export gives the same subscribers back.

:class:`CsvSubscribers` reads a file as a stream: each row becomes a
Subscriber when the store asks for it, and every problem is a
ValidationError starting with ``FILE:LINE:``.  What it keeps is bounded
whatever the file's size: the IMSIs seen (to refuse one listed twice, and
to name the line of an IMSI the store refuses) go to a temporary SQLite
file, not to memory.
"""

import csv
import os
import sqlite3
import tempfile

from pyhss.storage.errors import ValidationError
from pyhss.storage.records import SUBSCRIBER_FIELDS, SUBSCRIBER_RULES, Subscriber

CSV_COLUMNS = SUBSCRIBER_FIELDS
REQUIRED = ("imsi", "k")
_RULES = {rule.name: rule for rule in SUBSCRIBER_RULES}
_HEX = ("k", "opc", "op", "amf")
_FLAGS = ("enabled", "roaming_allowed")


class _RowError(Exception):
    def __init__(self, line, problem):
        Exception.__init__(self, line, problem)
        self.line = line
        self.problem = problem


def _utf8(row, line):
    for value in row:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _RowError(line, "not UTF-8 text") from None
    return row


def subscriber_from_cells(cells):
    """A Subscriber from ``{column: text}`` (stripped); ValidationError.
    Every cell is read with its field's rule (pyhss.storage.rules)."""
    values = {name: _RULES[name].from_text(text) for name, text in cells.items() if text and name != "imsi"}
    if "k" not in values:
        raise _RULES["k"].invalid("must be given")
    return Subscriber(cells["imsi"], **values)


def subscriber_cells(subscriber):
    """The row ``export`` writes, in :data:`CSV_COLUMNS` order."""
    row = []
    for name in CSV_COLUMNS:
        value = getattr(subscriber, name)
        if value is None:
            row.append("")
        elif name in _HEX:
            row.append(value.hex().upper())
        elif name in _FLAGS:
            row.append("true" if value else "false")
        elif name == "apns":
            row.append(";".join(value))
        else:
            row.append(str(value))
    return row


class _SeenImsis:
    """IMSI -> first line, on disk (a temporary SQLite file)."""

    def __init__(self):
        handle, self.path = tempfile.mkstemp(prefix="pyhss-import-", suffix=".sqlite3")
        os.close(handle)
        # Filled on the store's thread, read on the reactor's afterwards.
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=OFF")
        self._conn.execute("PRAGMA synchronous=OFF")
        self._conn.execute("CREATE TABLE seen (imsi TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID")
        self._conn.execute("BEGIN")

    def add(self, imsi, line):
        """None, or the line ``imsi`` was first seen on."""
        try:
            self._conn.execute("INSERT INTO seen VALUES (?, ?)", (imsi, line))
        except sqlite3.IntegrityError:
            return self.line_of(imsi)
        return None

    def line_of(self, imsi):
        row = self._conn.execute("SELECT line FROM seen WHERE imsi = ?", (imsi,)).fetchone()
        return None if row is None else row[0]

    def close(self):
        self._conn.close()
        os.unlink(self.path)


class CsvSubscribers:
    """The Subscribers of a CSV file, read as they are asked for.

    ``known_apns``: the APN names a row may list (others are refused with
    the row's line).  ``rows`` counts the subscribers read.  Use as a
    context manager (the temporary file goes at the end)."""

    def __init__(self, path, known_apns):
        self.path = path
        self.known_apns = known_apns
        self.rows = 0
        self._seen = None

    def __enter__(self):
        self._seen = _SeenImsis()
        return self

    def __exit__(self, *exc):
        self._seen.close()

    def line_of(self, imsi):
        return self._seen.line_of(imsi)

    def __iter__(self):
        path = self.path
        try:
            # utf-8-sig: spreadsheets save "CSV UTF-8" with a byte order mark.
            # surrogateescape: bytes that are not UTF-8 reach the row that has
            # them (_utf8), which names its line; a decoding error would not.
            handle = open(path, newline="", encoding="utf-8-sig", errors="surrogateescape")
        except OSError as e:
            raise ValidationError(f"{path}: cannot read: {e.strerror or e}") from None
        with handle:
            reader = csv.reader(handle)
            try:
                yield from self._rows(reader)
            except _RowError as e:
                raise ValidationError(f"{path}:{e.line}: {e.problem}") from None
            except csv.Error as e:
                raise ValidationError(f"{path}:{reader.line_num}: not valid CSV: {e}") from None

    def _rows(self, reader):
        try:
            header = [name.strip().lower() for name in _utf8(next(reader), 1)]
        except StopIteration:
            raise ValidationError(f"{self.path}: empty file, expected a header row") from None
        unknown = [name for name in header if name not in CSV_COLUMNS]
        if unknown or any(name not in header for name in REQUIRED) or len(set(header)) != len(header):
            raise _RowError(1, f"header must name distinct columns among {','.join(CSV_COLUMNS)} including "
                               f"imsi and k" + (f"; unknown: {','.join(unknown)}" if unknown else ""))
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            line = reader.line_num
            _utf8(row, line)
            if len(row) != len(header):
                raise _RowError(line, f"{len(row)} fields, header has {len(header)}")
            try:
                subscriber = subscriber_from_cells(dict(zip(header, (v.strip() for v in row))))
            except ValidationError as e:
                raise _RowError(line, e) from None
            for name in subscriber.apns:
                if name not in self.known_apns:
                    raise _RowError(line, f"unknown APN {name!r} (provision it with 'apn add')")
            first = self._seen.add(subscriber.imsi, line)
            if first is not None:
                raise _RowError(line, f"IMSI {subscriber.imsi} already on line {first}")
            self.rows += 1
            yield subscriber


def create_private(path):
    """Open ``path`` for writing, created 0600 (it will hold K and OPc);
    ValidationError if it exists or cannot be made."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise ValidationError(f"{path}: exists; export writes a new file (remove it or choose another name)") \
            from None
    except OSError as e:
        raise ValidationError(f"{path}: cannot create: {e.strerror or e}") from None
    return os.fdopen(fd, "w", newline="", encoding="utf-8")
