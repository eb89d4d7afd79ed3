"""the outbox wakes the delivery workers on new events only

The trigger of 0013 fired on every INSERT or UPDATE statement on ``alert_events``, including
the workers' own leasing UPDATE (even when it leased nothing): each poll woke every sender,
whose polls woke them again, a storm of empty queries that ate the service's CPU. It now fires
after an INSERT that inserted rows; retries coming due and released leases are found by the
worker's own poll.

Revision ID: 0017_alerts_notify_on_insert
Revises: 0016_upload_jobs
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_alerts_notify_on_insert"
down_revision: str | None = "0016_upload_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTIFY_ON_INSERT = """
CREATE FUNCTION borderlens_alerts_notify_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted) THEN
        PERFORM pg_notify('borderlens_alerts', '');
    END IF;
    RETURN NULL;
END
$$;
"""


def upgrade() -> None:
    op.execute("DROP TRIGGER alert_events_notify ON alert_events")
    op.execute(NOTIFY_ON_INSERT)
    op.execute(
        "CREATE TRIGGER alert_events_notify AFTER INSERT ON alert_events "
        "REFERENCING NEW TABLE AS inserted "
        "FOR EACH STATEMENT EXECUTE FUNCTION borderlens_alerts_notify_inserted()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER alert_events_notify ON alert_events")
    op.execute("DROP FUNCTION borderlens_alerts_notify_inserted()")
    op.execute(
        "CREATE TRIGGER alert_events_notify AFTER INSERT OR UPDATE ON alert_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION borderlens_alerts_notify()"
    )
