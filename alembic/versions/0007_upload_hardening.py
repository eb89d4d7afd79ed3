"""upload hardening: rejected rows stored apart (compressed), uploads looked up by their key,
sites no longer named after the uploader's key

- ``uploads.rejected_rows`` (bytea): the rejected rows' original values and reasons as
  zlib-compressed JSON lines, written once by the service; the report no longer echoes them
  (a wide file's report passed PostgreSQL's 256 MB jsonb limit). Existing reports are moved.
  Storage EXTERNAL: the value is already compressed, TOAST need not try again.
- ``ix_uploads_api_key_id``: researchers list only their own uploads.
- A site created by an upload that named no ``source`` got the API key's name as its public
  ``source``; that name is private, so those sources become NULL.

Revision ID: 0007
Revises: 0006
"""

import json
import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _pack(report: dict) -> bytes | None:  # type: ignore[type-arg]
    """The format of app.services.upload_report.pack_rejected (version 1), frozen here."""
    rejected = report.get("rejected") or []
    if not rejected:
        return None
    reasons: dict[int, list[str]] = {}
    for issue in report.get("issues", []):
        if issue.get("severity") == "error":
            reasons.setdefault(issue["row"], []).append(
                f"{issue.get('column') or 'row'}: {issue['code']}: {issue['message']}"
            )
    columns: list[str] = []
    for item in rejected:
        columns.extend(c for c in item["values"] if c not in columns)
    compressor = zlib.compressobj(6)
    parts = [compressor.compress(json.dumps({"format": 1, "columns": columns}).encode())]
    for item in rejected:
        line = [item["row"], [item["values"].get(c) for c in columns]]
        line.append("; ".join(reasons.get(item["row"], [])))
        parts.append(compressor.compress(b"\n" + json.dumps(line).encode()))
    parts.append(compressor.flush())
    return b"".join(parts)


def upgrade() -> None:
    op.add_column("uploads", sa.Column("rejected_rows", sa.LargeBinary(), nullable=True))
    op.execute("ALTER TABLE uploads ALTER COLUMN rejected_rows SET STORAGE EXTERNAL")
    op.create_index("ix_uploads_api_key_id", "uploads", ["api_key_id", "id"], unique=False)
    bind = op.get_bind()
    legacy = bind.execute(sa.text("SELECT id FROM uploads WHERE report ? 'rejected'")).scalars()
    for upload_id in list(legacy):
        report = bind.execute(
            sa.text("SELECT report FROM uploads WHERE id = :id"), {"id": upload_id}
        ).scalar_one()
        bind.execute(
            sa.text(
                "UPDATE uploads SET rejected_rows = :blob, report = report - 'rejected' "
                "WHERE id = :id"
            ),
            {"blob": _pack(report), "id": upload_id},
        )
    op.execute(
        """
        UPDATE sites s SET source = NULL
        FROM observations o JOIN uploads u ON u.id = o.upload_id
        WHERE o.site_id = s.id AND o.outcome = 'created'
          AND u.source IS NULL AND s.source = u.uploader
        """
    )


def downgrade() -> None:
    # Sources set to NULL stay NULL and the rejected rows go (the old report cannot be rebuilt
    # here without the file): a downgrade loses rejected.csv, not the uploads themselves.
    op.drop_index("ix_uploads_api_key_id", table_name="uploads")
    op.drop_column("uploads", "rejected_rows")
