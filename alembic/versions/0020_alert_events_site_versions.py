"""a site event names the site's history entry instead of carrying its feature; events
check no foreign key; the worker's queue is indexed in the order it is taken

``alert_events.site_version_id``: a ``site.created`` or ``site.entered`` event refers to the
``site_versions`` entry its change wrote (the whole site as it was then), and its body is
built from that entry when it is read or sent, with the subscriber's view of restricted
attributes. ``payload`` stays for the events whose body is not one site (``upload.completed``,
``cluster.joined``) and for the events written before. An upload of 10 000 sites with 10
subscriptions wrote ~23 600 copies of about 1 kB inside its transaction; it now writes narrow
rows, and the worker's updates of each event (tries, delivered) no longer copy 1 kB each.

``alert_events.subscription_id`` loses its foreign key: checking it (a row lock on the
subscription per event) was more than half of that upload's events statement (1.04 s with
it, 0.45 s without, one run each). A subscription's events are deleted with it, and the few a
change may write for a subscription removed while it ran are read by no one and purged.

``ix_alert_events_due`` is on ``(next_attempt_at, id)``: the worker takes the oldest due
events first, and an upload's ~23 600 events share one ``next_attempt_at``, so with that
column alone each take of 20 sorted all of them again (33 ms a take). A subscription that
takes batches fills its batch from ``ix_alert_events_due_subscription`` (its own due events in
that order; a bitmap of two indexes and a sort of 11 000 rows took 20 ms a batch).

Revision ID: 0020_alert_events_site_versions
Revises: 0019_alert_payload_text
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020_alert_events_site_versions"
down_revision: str | None = "0019_alert_payload_text"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_alert_events_due", table_name="alert_events")
    op.create_index(
        "ix_alert_events_due",
        "alert_events",
        ["next_attempt_at", "id"],
        postgresql_where="status = 'pending'",
    )
    op.create_index(
        "ix_alert_events_due_subscription",
        "alert_events",
        ["subscription_id", "next_attempt_at", "id"],
        postgresql_where="status = 'pending'",
    )
    op.drop_constraint(
        op.f("fk_alert_events_subscription_id_subscriptions"), "alert_events", type_="foreignkey"
    )
    # no foreign key: a check per event row costs the upload's transaction, and history
    # entries go only with their site (the read joins outer and says so if one is missing)
    op.execute("ALTER TABLE alert_events ADD COLUMN site_version_id bigint")
    op.execute("ALTER TABLE alert_events ALTER COLUMN payload DROP NOT NULL")
    op.create_check_constraint(
        op.f("ck_alert_events_body"),
        "alert_events",
        "payload IS NOT NULL OR site_version_id IS NOT NULL",
    )


def downgrade() -> None:
    # the body of then, as the public sees it (a subscriber's restricted view is not kept)
    op.execute(
        """
        UPDATE alert_events e SET payload = concat(
            '{"type":', to_json(e.type)::text,
            ',"timestamp":',
            to_json(to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text,
            ',"subscription":', to_json(s.public_id)::text,
            ',"data":', coalesce(v.feature_json, 'null'), '}')::json
        FROM subscriptions s, site_versions v
        WHERE e.payload IS NULL AND s.id = e.subscription_id AND v.id = e.site_version_id
        """
    )
    op.execute("DELETE FROM alert_events WHERE payload IS NULL")
    op.drop_constraint(op.f("ck_alert_events_body"), "alert_events", type_="check")
    op.execute("ALTER TABLE alert_events ALTER COLUMN payload SET NOT NULL")
    op.execute("ALTER TABLE alert_events DROP COLUMN site_version_id")
    op.drop_index("ix_alert_events_due_subscription", table_name="alert_events")
    op.drop_index("ix_alert_events_due", table_name="alert_events")
    op.create_index(
        "ix_alert_events_due",
        "alert_events",
        ["next_attempt_at"],
        postgresql_where="status = 'pending'",
    )
    op.execute(
        "DELETE FROM alert_events e WHERE NOT EXISTS "
        "(SELECT 1 FROM subscriptions s WHERE s.id = e.subscription_id)"
    )
    op.create_foreign_key(
        op.f("fk_alert_events_subscription_id_subscriptions"),
        "alert_events",
        "subscriptions",
        ["subscription_id"],
        ["id"],
        ondelete="CASCADE",
    )
