"""search and filter: unaccent + pg_trgm, immutable folding functions, a trigram index on sites

``unaccent()`` is only STABLE (its dictionary could change), so it cannot appear in an index;
the usual remedy is an IMMUTABLE wrapper that names the dictionary explicitly. CQL2's ACCENTI
uses ``borderlens_unaccent``; site search (``q=``) matches the folded query against
``borderlens_search_text(name, aliases)`` (name and aliases, unaccented, lower case), which a
GIN trigram index serves for LIKE and word similarity (typo tolerance).

Revision ID: 0010
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = (
    """
    CREATE FUNCTION borderlens_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$
    """,
    """
    CREATE FUNCTION borderlens_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(public.borderlens_unaccent($1)) $$
    """,
    """
    CREATE FUNCTION borderlens_search_text(name text, aliases text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT public.borderlens_fold(coalesce(name, '') || ' ' || coalesce(array_to_string(aliases, ' '), '')) $$
    """,
)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    for function in FUNCTIONS:
        op.execute(function)
    op.execute(
        "CREATE INDEX ix_sites_search_trgm ON sites "
        "USING gin (borderlens_search_text(name, aliases) public.gin_trgm_ops)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_sites_search_trgm")
    op.execute("DROP FUNCTION borderlens_search_text(text, text[])")
    op.execute("DROP FUNCTION borderlens_fold(text)")
    op.execute("DROP FUNCTION borderlens_unaccent(text)")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
    op.execute("DROP EXTENSION IF EXISTS unaccent")
