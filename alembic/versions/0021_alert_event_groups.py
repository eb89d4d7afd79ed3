"""the outbox holds a row per change and subscription (a group of its events), and an event
has a row of its own only once its first try failed

``alert_event_groups``: the events one change wrote for one subscription (up to 10 000 of one
type), with the history entries of their sites or, for an ``upload.completed``, its body. An
upload of 10 000 sites with 10 subscriptions wrote ~23 600 event rows inside its transaction,
and the delivery worker locked, read and updated each of them; it now writes about twenty
rows, and the worker locks and updates a group once per round. Event ``n`` of group ``g`` is
event id ``g * 16384 + n``; its ``webhook-id`` is the group's ``public_id`` and ``n`` in four hex digits.

``alert_events`` keeps the events whose first try failed (moved there with their id and
``webhook-id``: their retries, dead letter and redelivery are per event, as before). Its rows
written before this revision become groups of one event each: group ``id`` = the old event id,
the event's id times 16384, its ``webhook-id`` and state kept in its row (a client of the SSE
stream resuming with an older ``Last-Event-ID`` gets those events again, same ``id`` field).

Revision ID: 0021_alert_event_groups
Revises: 0020_alert_events_site_versions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021_alert_event_groups"
down_revision: str | None = "0020_alert_events_site_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SPAN = 16_384


def upgrade() -> None:
    op.create_table(
        "alert_event_groups",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "public_id",
            sa.String(32),
            server_default=sa.text("'msg_' || left(replace(gen_random_uuid()::text, '-', ''), 28)"),
            nullable=False,
        ),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("site_version_ids", postgresql.ARRAY(sa.BigInteger()), nullable=True),
        sa.Column("payload", postgresql.JSON(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sent", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'stream')",
            name=op.f("ck_alert_event_groups_status"),
        ),
        sa.CheckConstraint(
            "(payload IS NOT NULL AND size = 1) OR "
            "(site_version_ids IS NOT NULL AND size = cardinality(site_version_ids))",
            name=op.f("ck_alert_event_groups_body"),
        ),
        sa.CheckConstraint("size BETWEEN 1 AND 10000", name=op.f("ck_alert_event_groups_size")),
        sa.CheckConstraint("sent BETWEEN 0 AND size", name=op.f("ck_alert_event_groups_sent")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_event_groups")),
        sa.UniqueConstraint("public_id", name=op.f("uq_alert_event_groups_public_id")),
    )
    # the events written so far: a group of one each, its event's row keeping its state
    op.execute(
        """
        INSERT INTO alert_event_groups
            (id, public_id, subscription_id, type, site_version_ids, payload, size, status,
             sent, delivered_at, created_at)
        SELECT id, 'msg_old_' || id, subscription_id, type,
               CASE WHEN payload IS NULL THEN ARRAY[site_version_id] END, payload, 1,
               CASE WHEN status = 'stream' THEN 'stream' ELSE 'delivered' END,
               1, delivered_at, created_at
        FROM alert_events
        """
    )
    # in two steps: the key is checked row by row, and in one (id * 16384) event 1 became
    # 16384 while event 16384 was still there
    op.execute("UPDATE alert_events SET id = -id")
    op.execute(f"UPDATE alert_events SET id = -id * {SPAN}")
    op.execute(
        "SELECT setval(pg_get_serial_sequence('alert_event_groups', 'id'), "
        "coalesce((SELECT max(id) FROM alert_event_groups), 0) + 1, false)"
    )
    op.execute("ALTER TABLE alert_events ALTER COLUMN id DROP DEFAULT")
    op.execute("DROP SEQUENCE IF EXISTS alert_events_id_seq")
    op.create_index(
        "ix_alert_event_groups_subscription_id", "alert_event_groups", ["subscription_id", "id"]
    )
    op.create_index(
        "ix_alert_event_groups_due",
        "alert_event_groups",
        ["id"],
        postgresql_where="status = 'pending'",
    )
    op.create_index(
        "ix_alert_event_groups_due_subscription",
        "alert_event_groups",
        ["subscription_id", "id"],
        postgresql_where="status = 'pending'",
    )
    # borderlens_alerts_notify() (0013): the worker wakes at the writer's commit
    op.execute(
        "CREATE TRIGGER alert_event_groups_notify AFTER INSERT ON alert_event_groups "
        "FOR EACH STATEMENT EXECUTE FUNCTION borderlens_alerts_notify()"
    )


def downgrade() -> None:
    # every event of a group gets its row again (those of its events that have none)
    op.execute(
        "CREATE SEQUENCE alert_events_id_seq OWNED BY alert_events.id; "
        "ALTER TABLE alert_events ALTER COLUMN id SET DEFAULT nextval('alert_events_id_seq')"
    )
    op.execute(
        f"""
        INSERT INTO alert_events
            (id, public_id, subscription_id, type, payload, site_version_id, status, attempts,
             delivered_at, created_at)
        SELECT g.id * {SPAN} + o.n - 1, g.public_id || lpad(to_hex(o.n - 1), 4, '0'),
               g.subscription_id,
               g.type, g.payload, o.version,
               CASE WHEN g.status = 'stream' THEN 'stream'
                    WHEN o.n <= g.sent THEN 'delivered' ELSE 'pending' END,
               CASE WHEN g.status <> 'stream' AND o.n <= g.sent THEN 1 ELSE 0 END,
               CASE WHEN g.status <> 'stream' AND o.n <= g.sent THEN g.delivered_at END,
               g.created_at
        FROM alert_event_groups g
        CROSS JOIN LATERAL unnest(coalesce(g.site_version_ids, ARRAY[NULL::bigint]))
            WITH ORDINALITY AS o(version, n)
        ON CONFLICT (id) DO NOTHING
        """
    )
    op.execute(
        "SELECT setval('alert_events_id_seq', coalesce((SELECT max(id) FROM alert_events), 0) + 1,"
        " false)"
    )
    op.execute("DROP TRIGGER alert_event_groups_notify ON alert_event_groups")
    op.drop_index("ix_alert_event_groups_due_subscription", table_name="alert_event_groups")
    op.drop_index("ix_alert_event_groups_due", table_name="alert_event_groups")
    op.drop_index("ix_alert_event_groups_subscription_id", table_name="alert_event_groups")
    op.drop_table("alert_event_groups")
