"""What an upload keeps about its problems, bounded whatever the file holds.

Two parts, stored apart on purpose:

- the **report** (JSON, returned by ``POST /uploads`` and ``GET /uploads/{id}``, stored as
  JSONB): counts, the total of issues per code, at most ``limit`` issues (the first ones, by
  row), each message cut at :data:`MESSAGE_CHARS`, every accepted row's site and at most
  ``limit`` rejected rows' outcomes. A 2 000-row file with 10 000 columns
  used to put every rejected row's values into this one JSONB value and passed PostgreSQL's
  256 MB limit (field case rel-08); the report now grows with the number of *distinct codes*,
  not with the file.
- the **rejected rows** (``rejected.csv``): each rejected row's original values, once, with
  every reason, as zlib-compressed JSON lines in one ``bytea``. Compressed because survey rows
  repeat themselves (same columns, same village names); one value rather than a table of rows
  because it is only ever read whole and in order, to stream one CSV, and a JSON object per
  row would repeat every column name on every row. Packing and unpacking both stream, so
  neither side holds more than one row plus the compressor's window.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

import orjson

from app.csv_safe import Cell, csv_lines
from app.errors import ProblemItem, Unprocessable
from geo.survey import Issue

#: Longest issue message kept (a reader may quote a whole 1 MB cell in a message).
MESSAGE_CHARS = 500
#: The columns rejected.csv adds after the file's own: the row number and the reasons. A file
#: sent back corrected carries them; they are not the survey's data (not stored as its
#: attributes, not repeated in the next rejected.csv).
ROW_COLUMN: Final = "borderlens_row"
PROBLEMS_COLUMN: Final = "borderlens_problems"
SERVICE_COLUMNS: Final = frozenset({ROW_COLUMN, PROBLEMS_COLUMN})

#: Problems listed in the 422 of an upload none of whose rows can be stored (the rest counted).
ISSUES_IN_PROBLEM: Final = 1000

#: Longest ``borderlens_problems`` cell in rejected.csv.
PROBLEMS_CHARS = 4000
PACK_FORMAT = 1
_READ_CHUNK = 64 * 1024


def short(message: str, limit: int = MESSAGE_CHARS) -> str:
    """``message`` cut at ``limit`` characters, saying so."""
    if len(message) <= limit:
        return message
    return message[: limit - 20] + f"... (+{len(message) - limit + 20:,} chars)"


def nothing_usable(
    filename: str, rows: int, issues: Sequence[Issue], unit: str = "rows", what: str | None = None
) -> Unprocessable:
    """The 422 of an upload none of whose ``rows`` can be stored (every target: sites, zones,
    routes, actors): how many problems and the first row in the message, the first
    :data:`ISSUES_IN_PROBLEM` errors as items (file, row, column, code, reason), every error
    counted by code. ``what``: what a row has to be ("a route"), None when any row would do."""
    errors = [issue for issue in issues if issue.severity == "error"]
    items = [
        ProblemItem(
            code=issue.code,
            message=short(f"{filename}: {issue.message}"),
            row=issue.row,
            column=issue.column,
        )
        for issue in errors[:ISSUES_IN_PROBLEM]
    ]
    storable = f"is {what} that can be stored" if what else "can be stored"
    first = f", the first at row {errors[0].row}" if errors else ""
    return Unprocessable(
        f"{filename}: none of its {rows} {unit} {storable} ({len(errors)} problems{first}); "
        "nothing was stored",
        code="no_usable_rows",
        items=items,
        extra={
            "file": filename,
            "rows": rows,
            "truncated": len(errors) > len(items),
            "issue_counts": issue_summary(errors, 0)["issue_counts"],
        },
    )


def issue_summary(issues: Sequence[Issue], limit: int) -> dict[str, Any]:
    """The report's issue part: the first ``limit`` issues, totals per code, truncation flag.

    Returns ``{"issues": [...], "issue_counts": {code: {"error": n, "warning": m}},
    "issues_total": n, "issues_truncated": bool}``; each issue is ``{row, column, code,
    message, severity}`` as before.
    """
    counts: dict[str, Counter[str]] = {}
    for issue in issues:
        counts.setdefault(issue.code, Counter())[issue.severity] += 1
    return {
        "issues": [
            {
                "row": i.row,
                "column": i.column,
                "code": i.code,
                "message": short(i.message),
                "severity": i.severity,
            }
            for i in issues[:limit]
        ],
        "issue_counts": {code: dict(sorted(c.items())) for code, c in sorted(counts.items())},
        "issues_total": len(issues),
        "issues_truncated": len(issues) > limit,
    }


def bounded_rows(rows: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], bool]:
    """Every accepted row's outcome (its site) and the first ``limit`` rejected rows; True
    when rejected rows were left out (they are all in rejected.csv)."""
    kept: list[dict[str, Any]] = []
    rejected = 0
    for row in rows:
        if row["outcome"] == "rejected":
            rejected += 1
            if rejected > limit:
                continue
        kept.append(row)
    return kept, rejected > limit


def truncation_note(total: int, limit: int) -> str:
    return (
        f"{total:,} issues; the first {limit:,} issues and rejected rows are listed, "
        "issue_counts has every code's total and rejected.csv every rejected row with all "
        "its reasons"
    )


def problems_text(issues: Iterable[Issue]) -> str:
    """One rejected row's reasons as one cell: ``column: code: message; ...``."""
    return short(
        "; ".join(f"{i.column or 'row'}: {i.code}: {short(i.message)}" for i in issues),
        PROBLEMS_CHARS,
    )


def pack_rejected(
    columns: Sequence[str], rows: Iterable[tuple[int, Mapping[str, Any], str]]
) -> bytes:
    """Compress ``(row number, original values by column, reasons)`` rows for storage."""
    compressor = zlib.compressobj(6)
    parts = [compressor.compress(orjson.dumps({"format": PACK_FORMAT, "columns": list(columns)}))]
    for row, values, problems in rows:
        line = orjson.dumps([row, [values.get(c) for c in columns], problems])
        parts.append(compressor.compress(b"\n" + line))
    parts.append(compressor.flush())
    return b"".join(parts)


def _lines(blob: bytes) -> Iterator[bytes]:
    decompressor = zlib.decompressobj()
    pending = b""
    for start in range(0, len(blob), _READ_CHUNK):
        pending += decompressor.decompress(blob[start : start + _READ_CHUNK])
        *complete, pending = pending.split(b"\n")
        yield from complete
    pending += decompressor.flush()
    yield from pending.split(b"\n")


def unpack_rejected(blob: bytes) -> tuple[list[str], Iterator[tuple[int, list[Cell], str]]]:
    """The columns, and an iterator over the rows :func:`pack_rejected` stored."""
    lines = _lines(blob)
    head = orjson.loads(next(lines))
    if head.get("format") != PACK_FORMAT:
        raise ValueError(f"unknown rejected-rows format {head.get('format')!r}")

    def rows() -> Iterator[tuple[int, list[Cell], str]]:
        for line in lines:
            row, values, problems = orjson.loads(line)
            yield int(row), values, str(problems)

    return list(head["columns"]), rows()


def rejected_csv_chunks(blob: bytes | None) -> Iterator[bytes]:
    """``rejected.csv`` (UTF-8 with BOM, for Excel): original columns, then
    ``borderlens_row`` and ``borderlens_problems``; every cell neutralised against formulas."""
    yield "\ufeff".encode()
    if blob is None:
        yield from (c.encode() for c in csv_lines([ROW_COLUMN, PROBLEMS_COLUMN], []))
        return
    columns, rows = unpack_rejected(blob)
    lines = csv_lines(
        [*columns, ROW_COLUMN, PROBLEMS_COLUMN],
        ([*values, row, problems] for row, values, problems in rows),
    )
    for chunk in lines:
        yield chunk.encode("utf-8")
