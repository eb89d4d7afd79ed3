"""Service configuration, read from the environment (``BORDERLENS_*``, plus ``DATABASE_URL``).

Nothing here is built at import time: ``Settings()`` is constructed by the CLI or the test
suite and handed to ``create_app(settings)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the service; the README's configuration table is generated from this."""

    model_config = SettingsConfigDict(env_prefix="BORDERLENS_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "BORDERLENS_DATABASE_URL"),
        description="PostgreSQL + PostGIS URL. Unset: a private embedded cluster is started.",
    )
    database_replica_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated URLs of PostgreSQL streaming replicas of `DATABASE_URL`. "
        "Read-only requests (GET, HEAD) go to them in turn; writes, and a client's reads until "
        "a replica has replayed that client's last write, go to the primary.",
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / ".borderlens",
        description="Where the embedded cluster, downloaded boundaries and caches live.",
    )
    boundary_source: str = Field(
        default="osm-maritime-10m",
        description="Boundary dataset loaded on first start (`osm-maritime-10m` or "
        "`natural-earth-10m`, see data/boundaries/sources.json).",
    )
    public_url: str | None = Field(
        default=None,
        description="External base URL used in links and `Location` (e.g. behind a proxy; "
        "set it in production). Unset: taken from each request's Host header, which must be "
        "an allowed host.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the service answers for (JSON list; `*.example.org` for "
        "subdomains, `*` for any). Always allowed: localhost, 127.0.0.1, ::1 and the host of "
        "`BORDERLENS_PUBLIC_URL`. A request naming another host in its Host header gets 400, "
        "so links are never built from a host a caller made up.",
    )
    items_default_limit: int = Field(default=10, ge=1, description="Default page size.")
    items_max_limit: int = Field(default=10_000, ge=1, description="Largest page size.")
    count_exact_up_to: int = Field(
        default=100_000,
        ge=0,
        description="numberMatched is counted exactly up to this many matches and omitted "
        "beyond (a full COUNT(*) on every page of a large table is what makes other servers "
        "slow).",
    )
    frame_ancestors: str | None = Field(
        default=None,
        description="Who may embed /maps pages in an iframe, as a CSP frame-ancestors list "
        "(e.g. `https://example.org`). Unset: anyone, including offline file:// reports (a "
        "`*` would exclude those).",
    )
    map_tiles: str = Field(
        default="OpenStreetMap",
        description="Folium base layer for maps; `none` draws borders and sites only.",
    )
    db_pool_size: int = Field(default=10, ge=1, description="Database connection pool size.")
    upload_max_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1, description="Largest accepted upload (bytes)."
    )
    upload_max_rows: int = Field(
        default=200_000, ge=1, description="Most rows (features) an upload may hold."
    )
    upload_max_uncompressed_bytes: int = Field(
        default=500 * 1024 * 1024,
        ge=1,
        description="Most bytes a zipped upload (KMZ, Shapefile) may expand to.",
    )
    upload_max_columns: int = Field(
        default=1000,
        ge=1,
        description="Most columns (fields) an upload may have; wider files are refused (413 "
        "`too_many_columns`) before their rows are read.",
    )
    upload_report_max_issues: int = Field(
        default=1000,
        ge=0,
        description="Most issues listed in an upload's report; beyond, the report keeps the "
        "totals per code and rejected.csv every rejected row.",
    )
    upload_async_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=0,
        description="Uploads larger than this answer `202 Accepted` at once and are processed "
        "by a worker (`borderlens worker`, or the one `borderlens serve` runs); smaller ones "
        "answer with their report unless the request says `Prefer: respond-async`.",
    )
    upload_job_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="A running upload job whose worker has not reported for this long is "
        "marked failed (a worker that dies is noticed at once; this covers a hung one).",
    )
    upload_job_poll_s: float = Field(
        default=1.0, gt=0, description="How often an idle worker looks for queued uploads."
    )
    accuracy_threshold_m: float = Field(
        default=100.0,
        gt=0,
        description="Location accuracy beyond which an uploaded row is kept but flagged.",
    )
    region_countries: list[str] = Field(
        default_factory=list,
        description="ISO3 codes of the region uploads are checked against (a point outside is "
        "rejected). Empty: the Central African action-plan countries and their named "
        "neighbours.",
    )
    site_match_distance_m: float = Field(
        default=100.0,
        gt=0,
        description="An observation joins an existing site within this distance (and a "
        "compatible name or kind).",
    )
    webhook_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts alert webhooks may be sent to (JSON list; `*.example.org` for "
        "subdomains, `*` for any). Empty: no webhook can be registered (SSE `/events` still "
        "works). Link-local, metadata and this service's database addresses are refused "
        "whatever the list says; a loopback address (127.0.0.0/8, ::1) or another non-public "
        "one (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10) only for a host listed by "
        "itself (`127.0.0.1`, `localhost`, `hooks.lan`), never through a wildcard.",
    )
    webhook_max_attempts: int = Field(
        default=10,
        ge=1,
        description="Tries of one webhook event before it moves to the subscription's "
        "dead letters (re-sendable by the subscriber).",
    )
    webhook_backoff_s: float = Field(
        default=2.0,
        gt=0,
        description="First retry delay of a failed webhook (doubles at each try, with "
        "random jitter of ±50 %, capped by `BORDERLENS_WEBHOOK_BACKOFF_MAX_S`).",
    )
    webhook_backoff_max_s: float = Field(
        default=3600.0, gt=0, description="Longest delay between two tries of one webhook."
    )
    webhook_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="How long one webhook try may take, whole: resolving and connecting, "
        "sending, and the receiver's complete answer (one dripping its answer is cut off too).",
    )
    webhook_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="Longest a delivery worker holds the events it is sending: the database "
        "ends a worker's session idle in its transaction this long (a worker that dies releases "
        "its events at once; another sends them again, same id). Keep it well above "
        "`BORDERLENS_WEBHOOK_TIMEOUT_S`: no try starts later than one timeout before it ends.",
    )
    delivery_worker: bool = Field(
        default=True,
        description="Run the webhook delivery worker (and the peer sync schedule) inside "
        "`borderlens serve`; false when `borderlens worker` runs apart.",
    )
    peer_sync_interval_s: float = Field(
        default=300.0,
        ge=0,
        description="Seconds between two pulls from every peer node inside `serve` "
        "(0: only `borderlens peers sync`).",
    )
    changes_feed_requires_key: bool = Field(
        default=False,
        description="Serve the changes feed (`/collections/sites/changes`, what peer nodes "
        "pull) to API keys only; anonymous peers get 401.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Secret that signs the sign-in session cookie. Unset: generated once and "
        "kept in `<data dir>/secret_key` (mode 0600).",
    )

    audit_log: bool = Field(
        default=True,
        description="Keep the audit log: every request made with a key, and every anonymous "
        "write attempt (written in bulk off the request path; admins read it at `/audit`).",
    )
    audit_retention_days: int = Field(
        default=365,
        ge=0,
        description="Audit entries older than this many days are purged (hourly); 0 keeps "
        "them forever.",
    )

    event_streams_per_key: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="Server-Sent Events streams (`/events`) one API key may hold open at once "
        "in each server process; one more answers 429 `too_many_streams`.",
    )
    rate_limit_per_key: str = Field(
        default="3000/minute",
        description="Requests each API key may make (`limits` notation: `3000/minute`, "
        "`20/second;3000/minute`); `none` turns it off.",
    )
    rate_limit_anonymous: str = Field(
        default="600/minute",
        description="Requests each anonymous client address may make (same notation); "
        "`none` turns it off.",
    )
    rate_limit_storage_uri: str = Field(
        default="memory://",
        description="Where rate-limit counters live: `memory://` counts per process; with "
        "several workers use a shared store, e.g. `redis://127.0.0.1:6379/0`.",
    )

    @field_validator("rate_limit_per_key", "rate_limit_anonymous")
    @classmethod
    def _rate(cls, value: str) -> str:
        """Refuse a rate the limiter would not understand at start, not on the first request."""
        from limits import parse_many

        if value.strip().lower() not in ("", "none", "off"):
            parse_many(value)  # ValueError: reported by pydantic with the variable's name
        return value

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, value: str | None) -> str | None:
        """Accept ``postgres://`` and ``postgresql://`` URLs; drive them with psycopg 3."""
        if not value:
            return None
        for scheme in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
            if value.startswith(scheme):
                return "postgresql+psycopg://" + value[len(scheme) :]
        return value

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _split_replicas(cls, value: object) -> object:
        """``a,b`` from the environment; each URL driven with psycopg 3 like the primary's."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            return [cls._use_psycopg3(str(url)) for url in value]
        return value

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


def configuration_table() -> str:
    """The README's configuration table, generated from the fields above (a test compares)."""
    lines = ["| variable | default | what it does |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if name == "database_url":
            variable = "`DATABASE_URL`"
            default = "unset (embedded cluster)"
        else:
            variable = f"`BORDERLENS_{name.upper()}`"
            value = field.get_default(call_default_factory=True)
            if isinstance(value, Path):
                value = (
                    value.relative_to(PROJECT_ROOT) if value.is_relative_to(PROJECT_ROOT) else value
                )
            default = "unset" if value in (None, []) else f"`{value}`"
        lines.append(f"| {variable} | {default} | {field.description} |")
    return "\n".join(lines)
