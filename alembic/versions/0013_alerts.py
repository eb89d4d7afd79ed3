"""alerts and federation: subscriptions, the events outbox, peer nodes and shared sites

- ``subscriptions`` (criteria on sites, events, webhook URL, signing secret),
  ``subscription_sites`` (which sites each one matched last), ``alert_events`` (the outbox,
  written in the change's own transaction; a statement trigger NOTIFYs ``borderlens_alerts``
  at commit so the delivery worker wakes at once instead of polling).
- ``sites.changed_txid``: the transaction that last wrote each site, for the changes feed
  (a peer asks "what changed since token T"; see app/db/changes.py for why a transaction id
  and not a counter).
- ``peers``, ``peer_cursors``, ``shared_sites``, ``shared_site_reviews``.

Revision ID: 0013_alerts
Revises: 0010
"""

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_alerts"
down_revision: str | None = "0012_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")

NOTIFY_FUNCTION = """
CREATE FUNCTION borderlens_alerts_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('borderlens_alerts', '');
    RETURN NULL;
END
$$;
"""

TXID_FUNCTION = """
CREATE FUNCTION borderlens_site_changed_txid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_txid := txid_current();
    RETURN NEW;
END
$$;
"""


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("criteria", postgresql.JSONB(), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), server_default=sa.text("'active'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint("status IN ('active', 'paused')", name=op.f("ck_subscriptions_status")),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_subscriptions_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("public_id", name=op.f("uq_subscriptions_public_id")),
    )
    op.create_index("ix_subscriptions_api_key_id", "subscriptions", ["api_key_id"])
    op.create_table(
        "subscription_sites",
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_sites_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_subscription_sites_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscription_id", "site_id", name=op.f("pk_subscription_sites")),
    )
    op.create_index("ix_subscription_sites_site_id", "subscription_sites", ["site_id"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "public_id",
            sa.String(40),
            server_default=sa.text("'msg_' || replace(gen_random_uuid()::text, '-', '')"),
            nullable=False,
        ),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(16), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False
        ),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead', 'stream')",
            name=op.f("ck_alert_events_status"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_alert_events_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
        sa.UniqueConstraint("public_id", name=op.f("uq_alert_events_public_id")),
    )
    op.create_index("ix_alert_events_subscription_id", "alert_events", ["subscription_id", "id"])
    op.create_index(
        "ix_alert_events_due",
        "alert_events",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.execute(NOTIFY_FUNCTION)
    op.execute(
        "CREATE TRIGGER alert_events_notify AFTER INSERT OR UPDATE ON alert_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION borderlens_alerts_notify()"
    )

    op.add_column(
        "sites",
        sa.Column(
            "changed_txid",
            sa.BigInteger(),
            server_default=sa.text("txid_current()"),
            nullable=False,
        ),
    )
    op.create_index("ix_sites_changed_txid", "sites", ["changed_txid", "id"])
    op.execute(TXID_FUNCTION)
    op.execute(
        "CREATE TRIGGER sites_changed_txid BEFORE UPDATE ON sites "
        "FOR EACH ROW EXECUTE FUNCTION borderlens_site_changed_txid()"
    )

    op.create_table(
        "peers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("api_key", sa.Text(), nullable=True),
        sa.Column("collections", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peers")),
        sa.UniqueConstraint("url", name=op.f("uq_peers_url")),
    )
    op.create_table(
        "peer_cursors",
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("collection", sa.Text(), nullable=False),
        sa.Column("since", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_url", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peers.id"],
            name=op.f("fk_peer_cursors_peer_id_peers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("peer_id", "collection", name=op.f("pk_peer_cursors")),
    )
    op.create_table(
        "shared_sites",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("collection", sa.Text(), nullable=False),
        sa.Column("origin_node", sa.Text(), nullable=False),
        sa.Column("origin_id", sa.Text(), nullable=False),
        sa.Column("origin_version", sa.BigInteger(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("properties", postgresql.JSONB(), nullable=False),
        sa.Column("restricted", postgresql.JSONB(), nullable=True),
        sa.ForeignKeyConstraint(
            ["peer_id"],
            ["peers.id"],
            name=op.f("fk_shared_sites_peer_id_peers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shared_sites")),
        sa.UniqueConstraint(
            "peer_id", "collection", "origin_id", name=op.f("uq_shared_sites_peer_id")
        ),
    )
    op.create_index("idx_shared_sites_geom", "shared_sites", ["geom"], postgresql_using="gist")
    op.create_table(
        "shared_site_reviews",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shared_site_id", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("distance_m", sa.Double(), nullable=False),
        sa.Column("status", sa.String(16), server_default=sa.text("'open'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'same_place', 'different')",
            name=op.f("ck_shared_site_reviews_status"),
        ),
        sa.ForeignKeyConstraint(
            ["shared_site_id"],
            ["shared_sites.id"],
            name=op.f("fk_shared_site_reviews_shared_site_id_shared_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_shared_site_reviews_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shared_site_reviews")),
        sa.UniqueConstraint(
            "shared_site_id", "site_id", name=op.f("uq_shared_site_reviews_shared_site_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("shared_site_reviews")
    op.drop_index("idx_shared_sites_geom", table_name="shared_sites", postgresql_using="gist")
    op.drop_table("shared_sites")
    op.drop_table("peer_cursors")
    op.drop_table("peers")
    op.execute("DROP TRIGGER sites_changed_txid ON sites")
    op.execute("DROP FUNCTION borderlens_site_changed_txid()")
    op.drop_index("ix_sites_changed_txid", table_name="sites")
    op.drop_column("sites", "changed_txid")
    op.execute("DROP TRIGGER alert_events_notify ON alert_events")
    op.execute("DROP FUNCTION borderlens_alerts_notify()")
    op.drop_table("alert_events")
    op.drop_table("subscription_sites")
    op.drop_table("subscriptions")
