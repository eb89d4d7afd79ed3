"""each take of a group's events is kept with its time, so each event says when it was sent

``alert_event_groups.sent_marks`` and ``sent_times``: after each round of a worker that took
events of the group, the group's ``sent`` and the time, appended. An event's
``delivered_at`` is the time of the first take that reached it; it read the group's
``delivered_at``, the time of its last take, so the first events of an upload's group showed
the time their last ones went (seconds later, minutes when retries of others held the group).
Groups already taken get one mark, their last take: what their events showed until now.

Revision ID: 0022_alert_group_take_times
Revises: 0021_alert_event_groups
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0022_alert_group_take_times"
down_revision: str | None = "0021_alert_event_groups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "alert_event_groups",
        sa.Column(
            "sent_marks",
            postgresql.ARRAY(sa.Integer()),
            server_default=sa.text("'{}'::integer[]"),
            nullable=False,
        ),
    )
    op.add_column(
        "alert_event_groups",
        sa.Column(
            "sent_times",
            postgresql.ARRAY(sa.DateTime(timezone=True)),
            server_default=sa.text("'{}'::timestamptz[]"),
            nullable=False,
        ),
    )
    op.execute(
        "UPDATE alert_event_groups SET sent_marks = ARRAY[sent], sent_times = ARRAY[delivered_at] "
        "WHERE sent > 0 AND delivered_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("alert_event_groups", "sent_times")
    op.drop_column("alert_event_groups", "sent_marks")
