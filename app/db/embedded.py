"""A private PostgreSQL + PostGIS cluster the project starts itself when ``DATABASE_URL`` is unset.

The cluster lives in a project data directory, listens on 127.0.0.1 only (no Unix socket, so
long project paths are no problem) on a free port remembered between runs, and requires a
password generated at ``initdb`` time. PostgreSQL refuses to run as root, so when we are root
the cluster is owned by an unprivileged account (Debian's ``postgres`` when present).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "borderlens"
SUPERUSER = "borderlens"
DEBIAN_PACKAGE = "postgresql-15-postgis-3"
POSTGRES_LIB = Path("/usr/lib/postgresql")
POSTGRES_SHARE = Path("/usr/share/postgresql")
SERVICE_ACCOUNTS = ("postgres", "borderlens")


class EmbeddedClusterError(RuntimeError):
    """The embedded cluster cannot be installed, initialised or started; says what to do."""


@dataclass(frozen=True)
class PostgresInstall:
    version: int
    bindir: Path

    def tool(self, name: str) -> str:
        return str(self.bindir / name)


def find_postgres_with_postgis() -> PostgresInstall | None:
    """The newest installed PostgreSQL whose share directory has the PostGIS extension."""
    if not POSTGRES_LIB.is_dir():
        return None
    versions = sorted(
        (int(p.name) for p in POSTGRES_LIB.iterdir() if p.name.isdigit()), reverse=True
    )
    for version in versions:
        bindir = POSTGRES_LIB / str(version) / "bin"
        has_postgis = (POSTGRES_SHARE / str(version) / "extension" / "postgis.control").exists()
        if (bindir / "initdb").exists() and has_postgis:
            return PostgresInstall(version, bindir)
    return None


def install_command() -> list[str]:
    return ["apt-get", "install", "-y", "--no-install-recommends", DEBIAN_PACKAGE]


def ensure_postgres_installed() -> PostgresInstall:
    """Find PostgreSQL + PostGIS, installing the Debian packages when we are root."""
    found = find_postgres_with_postgis()
    if found:
        return found
    command = " ".join(install_command())
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise EmbeddedClusterError(
            "PostgreSQL with PostGIS is not installed. Install it with:\n"
            f"    sudo apt-get update && sudo {command}\n"
            "or point DATABASE_URL at an existing PostGIS server."
        )
    log.warning("PostgreSQL/PostGIS missing: running `apt-get update && %s`", command)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"], install_command()):
        subprocess.run(step, check=True, env=env)
    found = find_postgres_with_postgis()
    if not found:
        raise EmbeddedClusterError(f"`{command}` ran but PostGIS is still not found.")
    return found


def service_account() -> pwd.struct_passwd | None:
    """The unprivileged account that owns the cluster when we run as root (None otherwise)."""
    if os.geteuid() != 0:
        return None
    for name in SERVICE_ACCOUNTS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "borderlens"],
        check=True,
    )
    return pwd.getpwnam("borderlens")


SHARED_BUFFERS_MAX_MB = 512
SHARED_BUFFERS_MIN_MB = 32

# What the embedded cluster logs: never a statement, a bound parameter or COPY data. A failed
# statement's ERROR (and its DETAIL/CONTEXT) quotes the offending values ("invalid input
# syntax for type ...: "<value>"", "Failing row contains (...)", "COPY sites, line 3, column
# restricted: ..."), and the client that caused it gets the error anyway, so ERROR and
# WARNING stay out of the server log; LOG, FATAL and PANIC (start, stop, checkpoints, crashes,
# failed logins) stay in. Given at every start, so clusters made by older versions get them.
LOG_SETTINGS = {
    "log_min_messages": "log",
    "log_min_error_statement": "panic",
    "log_error_verbosity": "terse",
    "log_statement": "none",
    "log_min_duration_statement": "-1",
    "log_parameter_max_length": "0",
    "log_parameter_max_length_on_error": "0",
    "log_file_mode": "0600",
}


def shared_buffers_mb() -> int:
    """A quarter of the machine's memory, at most 512 MB (PostgreSQL's own advice is 25 %; the
    cap keeps a service sharing a laptop or a small VM with other programs modest)."""
    try:
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError):
        return 128
    return max(SHARED_BUFFERS_MIN_MB, min(SHARED_BUFFERS_MAX_MB, total_mb // 4))


def process_start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), None if it is gone.

    A pid plus its start time names one process even after the pid is reused.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) is in parentheses and may hold spaces.
    return stat.rsplit(")", 1)[1].split()[19]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class EmbeddedCluster:
    """A private cluster under ``root``: ``pgdata/``, ``cluster.json``, ``log/postgres.log``
    (directory 0700, file 0600: only the cluster's owner reads it) and, while a borderlens
    process owns the running postmaster, ``owner.json`` (that process and the postmaster).

    ``start()`` is idempotent. A cluster already running from this directory is *adopted*
    when ``owner.json`` says borderlens started that very postmaster and the process that did
    has exited (``kill -9``, a crash): ``stop()`` then stops it. A cluster whose owner is still
    running (a CLI command next to ``serve``), or that borderlens did not start, is reused and
    left running.
    """

    def __init__(self, root: Path) -> None:
        self.account = service_account()
        self.root = self._usable_root(root.resolve())
        self.pgdata = self.root / "pgdata"
        self.state_file = self.root / "cluster.json"
        self.log_dir = self.root / "log"
        self.log_file = self.log_dir / "postgres.log"
        self.owner_file = self.root / "owner.json"
        self.started_here = False
        self._install: PostgresInstall | None = None

    # -- public -------------------------------------------------------------------------

    def start(self, database: str = DEFAULT_DATABASE) -> str:
        """Initialise if needed, start (or reuse) the cluster, create ``database`` with PostGIS.

        Returns a SQLAlchemy URL for that database.
        """
        self._install = ensure_postgres_installed()
        state = self._state()
        if not (self.pgdata / "PG_VERSION").exists():
            state = self._initdb()
        running = self._running()
        if running is None:
            port = self._start(state)
            self.started_here = True
        else:
            port, postmaster = running
            if self._orphaned(postmaster):
                log.warning(
                    "adopting the embedded PostgreSQL (pid %s) that an exited borderlens "
                    "process had started; it stops when this process ends",
                    postmaster,
                )
                self.started_here = True
        if self.started_here:
            self._claim()
        state["port"] = port
        self._save_state(state)
        self.create_database(database)
        return self.url(database)

    def stop(self) -> None:
        """Stop the cluster if this object started it (fast shutdown: sessions are ended)."""
        if not self.started_here or self._install is None:
            return
        self._run(
            [self._install.tool("pg_ctl"), "stop", "-D", str(self.pgdata), "-m", "fast", "-w"]
        )
        self.owner_file.unlink(missing_ok=True)
        self.started_here = False

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        state = self._state()
        return (
            f"postgresql+psycopg://{SUPERUSER}:{state['password']}@127.0.0.1:{state['port']}"
            f"/{database}"
        )

    def create_database(self, database: str, *, template: str | None = None) -> None:
        """Create ``database`` (if missing) with the PostGIS extension."""
        import psycopg

        if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
            raise ValueError(f"unsafe database name {database!r}")
        with psycopg.connect(self._libpq("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if not exists:
                clause = f" TEMPLATE {template}" if template else ""
                conn.execute(f"CREATE DATABASE {database}{clause}")
        with psycopg.connect(self._libpq(database), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    def drop_database(self, database: str) -> None:
        import psycopg

        if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
            raise ValueError(f"unsafe database name {database!r}")
        with psycopg.connect(self._libpq("postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")

    # -- internals ----------------------------------------------------------------------

    def _usable_root(self, root: Path) -> Path:
        """``root``, unless the service account cannot reach it (e.g. under /root, mode 0700)."""
        if self.account is None or self._account_can_enter(root.parent):
            return root
        fallback = Path("/var/lib/borderlens") / re.sub(r"[^A-Za-z0-9]+", "-", str(root)).strip("-")
        log.warning(
            "%s is not reachable by the %r account; the embedded cluster lives in %s",
            root,
            self.account.pw_name,
            fallback,
        )
        return fallback

    def _account_can_enter(self, directory: Path) -> bool:
        assert self.account is not None
        probe = directory
        while not probe.exists():
            probe = probe.parent
        result = subprocess.run(
            ["runuser", "-u", self.account.pw_name, "--", "test", "-x", str(probe)],
            check=False,
            capture_output=True,
        )
        return result.returncode == 0

    def _libpq(self, database: str) -> str:
        state = self._state()
        return (
            f"host=127.0.0.1 port={state['port']} user={SUPERUSER} "
            f"password={state['password']} dbname={database} connect_timeout=10"
        )

    def _state(self) -> dict[str, object]:
        if self.state_file.exists():
            loaded: dict[str, object] = json.loads(self.state_file.read_text())
            return loaded
        return {"password": secrets.token_urlsafe(24), "port": None}

    def _save_state(self, state: dict[str, object]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)

    def _run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool as the cluster's owner."""
        command = self._as_account(list(argv))
        try:
            return subprocess.run(command, check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            raise EmbeddedClusterError(
                f"{' '.join(command)} failed:\n{exc.stdout}{exc.stderr}"
            ) from exc

    def _give_to_account(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def _initdb(self) -> dict[str, object]:
        assert self._install is not None
        state = self._state()
        self.root.mkdir(parents=True, exist_ok=True)
        self._save_state(state)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._give_to_account(self.pgdata)
        pwfile = self.root / ".initdb-password"
        pwfile.write_text(str(state["password"]))
        pwfile.chmod(0o600)
        self._give_to_account(pwfile)
        try:
            self._run(
                [
                    self._install.tool("initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        settings = (
            "\n# borderlens embedded cluster (memory sizes are given at each start)\n"
            "listen_addresses = '127.0.0.1'\n"
            "unix_socket_directories = ''\n"
            "fsync = on\n"
            "work_mem = '32MB'\n"
            "maintenance_work_mem = '256MB'\n"
            "max_connections = 100\n"
        )
        # Appending keeps the file's owner, so this works as root too.
        with (self.pgdata / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(settings)
        log.info(
            "initialised embedded PostgreSQL %s cluster in %s", self._install.version, self.pgdata
        )
        return state

    def _running(self) -> tuple[int, int] | None:
        """(port, pid) of a postmaster already running from our data directory, if any."""
        assert self._install is not None
        status = subprocess.run(
            self._as_account([self._install.tool("pg_ctl"), "status", "-D", str(self.pgdata)]),
            check=False,
            capture_output=True,
            text=True,
        )
        if status.returncode != 0:
            return None
        pid_lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        return int(pid_lines[3]), int(pid_lines[0])

    def _orphaned(self, postmaster: int) -> bool:
        """True when borderlens started this postmaster and the process that did is gone."""
        try:
            owner = json.loads(self.owner_file.read_text())
        except (OSError, ValueError):
            return False
        if owner.get("postmaster_pid") != postmaster:
            return False
        if owner.get("postmaster_started") != process_start_time(postmaster):
            return False
        return bool(process_start_time(int(owner["pid"])) != owner.get("pid_started"))

    def _claim(self) -> None:
        """Record that this process owns the running postmaster (see the class docstring)."""
        running = self._running()
        if running is None:
            return
        postmaster = running[1]
        owner = {
            "pid": os.getpid(),
            "pid_started": process_start_time(os.getpid()),
            "postmaster_pid": postmaster,
            "postmaster_started": process_start_time(postmaster),
        }
        tmp = self.owner_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(owner, indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.owner_file)

    def _as_account(self, argv: list[str]) -> list[str]:
        if self.account is None:
            return argv
        return ["runuser", "-u", self.account.pw_name, "--", *argv]

    def _start(self, state: dict[str, object]) -> int:
        assert self._install is not None
        port = state.get("port")
        if not isinstance(port, int) or not port_is_free(port):
            port = free_port()
        self._prepare_log()
        shared_mb = shared_buffers_mb()
        log_options = " ".join(f"-c {name}={value}" for name, value in LOG_SETTINGS.items())
        self._run(
            [
                self._install.tool("pg_ctl"),
                "start",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-o",
                f"-p {port} -c shared_buffers={shared_mb}MB "
                f"-c effective_cache_size={shared_mb * 3}MB {log_options}",
                "-w",
                "-t",
                "60",
            ]
        )
        self._wait_accepting(port)
        log.info("embedded PostgreSQL listening on 127.0.0.1:%s", port)
        return port

    def _prepare_log(self) -> None:
        """``log/`` 0700 and ``log/postgres.log`` 0600, both the cluster owner's."""
        self.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_dir.chmod(0o700)
        self._give_to_account(self.log_dir)
        self.log_file.touch(mode=0o600)
        self.log_file.chmod(0o600)
        self._give_to_account(self.log_file)
        legacy = self.root / "postgres.log"  # where versions before the log/ directory wrote
        if legacy.exists():
            legacy.chmod(0o600)

    @staticmethod
    def _wait_accepting(port: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return
            time.sleep(0.1)
        raise EmbeddedClusterError(f"embedded PostgreSQL did not accept connections on {port}")
