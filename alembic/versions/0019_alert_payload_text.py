"""alert payloads are stored as written (json), their NOTIFY copies no rows, and a deleted
subscription may wait for its removal

``alert_events.payload`` becomes ``json``: the body a webhook sends is the text the outbox
wrote (type, timestamp, subscription, data, in that order), checked but not parsed into
``jsonb`` and printed again; building and storing each event as ``jsonb`` cost about a third
of the events statement of an upload (10 000 sites, 10 subscriptions: 23 646 events).

The NOTIFY trigger no longer reads a transition table: capturing every inserted row (1 kB
each) to see that there was one spilled 26 MB to temporary files per such upload. It fires
after every INSERT statement; one that inserted nothing wakes the workers for one empty look.

A subscription's ``status`` may be ``deleted``: ``DELETE /subscriptions/{id}`` marks it so (at
once; gone for every reader and the delivery), and its rows are removed when no delivery
worker holds one of its events; a plain DELETE waited for the worker's locks.

Revision ID: 0019_alert_payload_text
Revises: 0018_webhook_batches
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_alert_payload_text"
down_revision: str | None = "0018_webhook_batches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_subscriptions_status"), "subscriptions", type_="check")
    op.create_check_constraint(
        op.f("ck_subscriptions_status"),
        "subscriptions",
        "status IN ('active', 'paused', 'deleted')",
    )
    op.execute("ALTER TABLE alert_events ALTER COLUMN payload TYPE json USING payload::json")
    op.execute("DROP TRIGGER alert_events_notify ON alert_events")
    # borderlens_alerts_notify() (0013) notifies, nothing more
    op.execute(
        "CREATE TRIGGER alert_events_notify AFTER INSERT ON alert_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION borderlens_alerts_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER alert_events_notify ON alert_events")
    op.execute(
        "CREATE TRIGGER alert_events_notify AFTER INSERT ON alert_events "
        "REFERENCING NEW TABLE AS inserted "
        "FOR EACH STATEMENT EXECUTE FUNCTION borderlens_alerts_notify_inserted()"
    )
    op.execute("ALTER TABLE alert_events ALTER COLUMN payload TYPE jsonb USING payload::jsonb")
    op.execute("DELETE FROM subscriptions WHERE status = 'deleted'")
    op.drop_constraint(op.f("ck_subscriptions_status"), "subscriptions", type_="check")
    op.create_check_constraint(
        op.f("ck_subscriptions_status"), "subscriptions", "status IN ('active', 'paused')"
    )
