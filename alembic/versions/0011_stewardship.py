"""stewardship: a dataset version per committed change, the history of every site, curation

The dataset version (``dataset_state.sites_version``, the column keeps its 0006 name) is no
longer a sequence value per statement: each writing transaction takes ONE number, under the
``dataset_state`` row lock, at the end of its work (``borderlens_take_dataset_version()``),
and holds that lock until it commits. Numbers are therefore handed out in commit order, so
"everything up to version N" is a fixed set of changes and ``as_of=N`` reads repeat exactly.
Services take the number themselves (their history rows carry it); a writer that does not
(code written before this) is caught by a statement trigger on sites, observations and
uploads, which marks the transaction pending, and a deferred constraint trigger takes the
number for it at commit.

``site_versions`` holds every site's history, each entry with the whole stored row after the
change. Observations moved between sites (merge, split) and observations of retracted uploads
are kept (``observation_moves``, ``retracted_observations``) so observations read ``as_of`` a
version are exact too. Merged ids redirect (``site_redirects``); rejected duplicate pairs are
remembered (``review_rejections``).

Revision ID: 0011_stewardship
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0011_stewardship"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = (
    "created",
    "matched",
    "edited",
    "moved",
    "merged",
    "merged_into",
    "split",
    "retired",
    "restored",
    "recomputed",
    "retracted",
)

# The columns of a site snapshot, in ``sites`` order (also the INSERT ... SELECT list).
SNAPSHOT_COLUMNS = (
    "public_id, kind, name, aliases, minerals, status, geom, country_iso3, location_status, "
    "claimants, accuracy_m, location_origin, admin, properties, restricted, source, "
    "first_observed, last_observed, boundary_source_id, created_at, updated_at, "
    "border_distance_m, border_pair, neighbour_iso3, side_probability, side_confidence, "
    "feature_json, version, retired_at, retired_reason"
)

FUNCTIONS = (
    # The one place a dataset version is taken: the next number under the row lock (held to
    # commit), its time, and the transaction marked as done so the deferred trigger skips it.
    """
    CREATE FUNCTION borderlens_take_dataset_version() RETURNS bigint
    LANGUAGE plpgsql AS $$
    DECLARE
        taken bigint;
        at timestamptz;
        xact bigint := pg_current_xact_id()::text::bigint;
    BEGIN
        UPDATE dataset_state
           SET sites_version = sites_version + 1, changed_at = clock_timestamp()
         WHERE id = 1
        RETURNING sites_version, changed_at INTO taken, at;
        INSERT INTO dataset_versions (version, committed_at, xact_id) VALUES (taken, at, xact);
        DELETE FROM dataset_pending WHERE xact_id = xact;
        PERFORM set_config('borderlens.dataset_xact', xact::text, true);
        RETURN taken;
    END
    $$
    """,
    """
    CREATE FUNCTION borderlens_dataset_touched() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('borderlens.dataset_xact', true) IS DISTINCT FROM
           pg_current_xact_id()::text THEN
            INSERT INTO dataset_pending (xact_id) VALUES (pg_current_xact_id()::text::bigint)
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION borderlens_dataset_commit() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM dataset_pending WHERE xact_id = NEW.xact_id) THEN
            PERFORM borderlens_take_dataset_version();
        END IF;
        RETURN NULL;
    END
    $$
    """,
)

TOUCHED_TABLES = ("sites", "observations", "uploads")


def upgrade() -> None:
    op.add_column("dataset_state", sa.Column("changed_at", sa.DateTime(timezone=True)))
    op.create_table(
        "dataset_versions",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("xact_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_dataset_versions")),
    )
    op.create_index("ix_dataset_versions_committed_at", "dataset_versions", ["committed_at"])
    op.create_table(
        "dataset_pending",
        sa.Column("xact_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("xact_id", name=op.f("pk_dataset_pending")),
    )
    for column in (
        sa.Column("dataset_version", sa.BigInteger()),
        sa.Column("retracted_at", sa.DateTime(timezone=True)),
        sa.Column("retracted_reason", sa.Text()),
        sa.Column("retracted_by", sa.Integer()),
        sa.Column("retraction", postgresql.JSONB(astext_type=sa.Text())),
    ):
        op.add_column("uploads", column)
    op.create_foreign_key(
        op.f("fk_uploads_retracted_by_api_keys"),
        "uploads",
        "api_keys",
        ["retracted_by"],
        ["id"],
        ondelete="SET NULL",
    )
    _create_site_versions()
    _create_curation_tables()

    # The 0006 counter gives way to the version taken once per transaction.
    op.execute("DROP TRIGGER sites_version ON sites")
    op.execute("DROP FUNCTION borderlens_sites_changed()")
    op.execute("DROP SEQUENCE sites_version_seq")
    for function in FUNCTIONS:
        op.execute(function)
    for table in TOUCHED_TABLES:
        op.execute(
            f"CREATE TRIGGER dataset_touched AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION borderlens_dataset_touched()"
        )
    op.execute(
        "CREATE CONSTRAINT TRIGGER dataset_commit AFTER INSERT ON dataset_pending "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION borderlens_dataset_commit()"
    )
    # History begins with what is there: one entry per site at the version of this migration.
    op.execute(
        f"""
        WITH v AS (SELECT borderlens_take_dataset_version() AS version),
        up AS (UPDATE uploads SET dataset_version = (SELECT version FROM v))
        INSERT INTO site_versions (site_id, dataset_version, action, reason, {SNAPSHOT_COLUMNS})
        SELECT id, (SELECT version FROM v), 'created', 'state when history began',
               {SNAPSHOT_COLUMNS}
        FROM sites
        """
    )


def _create_site_versions() -> None:
    op.create_geospatial_table(
        "site_versions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("dataset_version", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("upload_id", sa.BigInteger(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("related_site_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("aliases", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("minerals", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("country_iso3", sa.String(length=3), nullable=True),
        sa.Column("location_status", sa.String(length=16), nullable=False),
        sa.Column("claimants", postgresql.ARRAY(sa.String(length=3)), nullable=False),
        sa.Column("accuracy_m", sa.Double(), nullable=True),
        sa.Column("location_origin", sa.Text(), nullable=True),
        sa.Column("admin", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("properties", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("restricted", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("first_observed", sa.Date(), nullable=True),
        sa.Column("last_observed", sa.Date(), nullable=True),
        sa.Column("boundary_source_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("border_distance_m", sa.Double(), nullable=True),
        sa.Column("border_pair", sa.String(length=7), nullable=True),
        sa.Column("neighbour_iso3", sa.String(length=3), nullable=True),
        sa.Column("side_probability", sa.Double(), nullable=True),
        sa.Column("side_confidence", sa.String(length=16), nullable=True),
        sa.Column("feature_json", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "action IN (" + ", ".join(repr(a) for a in ACTIONS) + ")",
            name=op.f("ck_site_versions_action"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_site_versions_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_site_versions_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["uploads.id"],
            name=op.f("fk_site_versions_upload_id_uploads"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_versions")),
    )
    op.create_index("ix_site_versions_site", "site_versions", ["site_id", "dataset_version", "id"])
    op.create_index("ix_site_versions_dataset_version", "site_versions", ["dataset_version"])


def _create_curation_tables() -> None:
    op.create_table(
        "observation_moves",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("observation_id", sa.BigInteger(), nullable=False),
        sa.Column("from_site_id", sa.BigInteger(), nullable=False),
        sa.Column("to_site_id", sa.BigInteger(), nullable=False),
        sa.Column("dataset_version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_moves")),
    )
    op.create_index(
        "ix_observation_moves_observation",
        "observation_moves",
        ["observation_id", "dataset_version"],
    )
    op.create_geospatial_table(
        "retracted_observations",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("upload_id", sa.BigInteger(), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("observed_on", sa.Date(), nullable=True),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("accuracy_m", sa.Double(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("minerals", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dataset_version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["uploads.id"],
            name=op.f("fk_retracted_observations_upload_id_uploads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retracted_observations")),
    )
    op.create_index("ix_retracted_observations_upload", "retracted_observations", ["upload_id"])
    op.create_table(
        "site_redirects",
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.BigInteger(), nullable=False),
        sa.Column("dataset_version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_site_redirects_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("public_id", name=op.f("pk_site_redirects")),
    )
    op.create_index("ix_site_redirects_site_id", "site_redirects", ["site_id"])
    op.create_table(
        "review_rejections",
        sa.Column("site_a", sa.BigInteger(), nullable=False),
        sa.Column("site_b", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "rejected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("site_a < site_b", name=op.f("ck_review_rejections_ordered_pair")),
        sa.ForeignKeyConstraint(
            ["site_a"],
            ["sites.id"],
            name=op.f("fk_review_rejections_site_a_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_b"],
            ["sites.id"],
            name=op.f("fk_review_rejections_site_b_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_review_rejections_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("site_a", "site_b", name=op.f("pk_review_rejections")),
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER dataset_commit ON dataset_pending")
    for table in TOUCHED_TABLES:
        op.execute(f"DROP TRIGGER dataset_touched ON {table}")
    op.execute("DROP FUNCTION borderlens_dataset_commit()")
    op.execute("DROP FUNCTION borderlens_dataset_touched()")
    op.execute("DROP FUNCTION borderlens_take_dataset_version()")
    # Back to 0006: a sequence that continues after the last version handed out.
    op.execute("CREATE SEQUENCE sites_version_seq")
    op.execute(
        "SELECT setval('sites_version_seq', greatest(sites_version, 1)) FROM dataset_state "
        "WHERE id = 1"
    )
    op.execute(
        """
        CREATE FUNCTION borderlens_sites_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE dataset_state SET sites_version = nextval('sites_version_seq') WHERE id = 1;
            RETURN NULL;
        END
        $$;
        """
    )
    op.execute(
        "CREATE TRIGGER sites_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sites "
        "FOR EACH STATEMENT EXECUTE FUNCTION borderlens_sites_changed()"
    )
    op.drop_table("review_rejections")
    op.drop_index("ix_site_redirects_site_id", table_name="site_redirects")
    op.drop_table("site_redirects")
    op.drop_index("ix_retracted_observations_upload", table_name="retracted_observations")
    op.drop_geospatial_table("retracted_observations")
    op.drop_index("ix_observation_moves_observation", table_name="observation_moves")
    op.drop_table("observation_moves")
    op.drop_index("ix_site_versions_dataset_version", table_name="site_versions")
    op.drop_index("ix_site_versions_site", table_name="site_versions")
    op.drop_geospatial_table("site_versions")
    op.drop_constraint(op.f("fk_uploads_retracted_by_api_keys"), "uploads", type_="foreignkey")
    for column in ("retraction", "retracted_by", "retracted_reason", "retracted_at"):
        op.drop_column("uploads", column)
    op.drop_column("uploads", "dataset_version")
    op.drop_table("dataset_pending")
    op.drop_index("ix_dataset_versions_committed_at", table_name="dataset_versions")
    op.drop_table("dataset_versions")
    op.drop_column("dataset_state", "changed_at")
