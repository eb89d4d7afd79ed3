"""subscriptions may ask for their webhook events in batches

``batch_max_events`` (1 to 1000, default 1): how many of a subscription's due events one
signed webhook message may carry. 1 is one message per event (the contract so far); more
lets a receiver that takes bursts (an upload of 10 000 sites) get them in a few requests.

Revision ID: 0018_webhook_batches
Revises: 0017_alerts_notify_on_insert
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_webhook_batches"
down_revision: str | None = "0017_alerts_notify_on_insert"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "subscriptions",
        sa.Column("batch_max_events", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_subscriptions_batch_max_events"),
        "subscriptions",
        "batch_max_events BETWEEN 1 AND 1000",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_subscriptions_batch_max_events"), "subscriptions", type_="check")
    op.drop_column("subscriptions", "batch_max_events")
