"""A live server (uvicorn in a thread, real HTTP) on its own committed database copy,
and a headless Chromium driven by Selenium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.orm import Session, sessionmaker

from app.db.engine import make_engine, make_sessionmaker
from app.settings import PROJECT_ROOT, Settings
from tests.conftest import settings_for
from tests.support.alerts import Node
from tests.support.webhooks import Receiver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@dataclass
class LiveServer:
    url: str
    settings: Settings
    sessions: sessionmaker[Session]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_server(database_copy: Callable[[str], str], cache_dir: Path) -> Iterator[LiveServer]:
    """``uvicorn`` in its own process, as in production (GDAL holds the GIL while it reads,
    so a server thread in the test process could never answer it)."""
    database_url = database_copy("e2e")
    settings = settings_for(database_url, cache_dir)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BORDERLENS_DATA_DIR": str(cache_dir),
        "BORDERLENS_BOUNDARY_SOURCE": settings.boundary_source,
        "BORDERLENS_MAP_TILES": "none",
        # GDAL and QGIS read every page as fast as they can; limits have tests of their own
        "BORDERLENS_RATE_LIMIT_ANONYMOUS": "none",
        "BORDERLENS_RATE_LIMIT_PER_KEY": "none",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "app.main:create_app_from_env",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=PROJECT_ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "the live server exited"
        assert time.monotonic() < deadline, "the live server did not start"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            time.sleep(0.1)
    engine = make_engine(database_url, pool_size=2)
    yield LiveServer(url, settings, make_sessionmaker(engine))
    process.terminate()
    process.wait(timeout=30)
    engine.dispose()


class _Settling(WebDriverWait[webdriver.Chrome]):
    """Chromium reports an element replaced while its text was read as an "unknown error"
    ("Node with given id does not belong to the document"), not as stale: the same thing,
    so it means "not yet" too (a CI run failed on it once, revoking a key)."""

    def until(self, method: Any, message: str = "") -> Any:
        def tolerant(driver: webdriver.Chrome) -> Any:
            try:
                return method(driver)
            except WebDriverException as error:
                if "does not belong to the document" in (error.msg or ""):
                    return False
                raise

        return super().until(tolerant, message)


def settle(driver: webdriver.Chrome, timeout: float = 15) -> WebDriverWait[webdriver.Chrome]:
    """A wait for a condition that reads elements of a page being re-rendered: an element
    replaced between finding it and reading it (stale), not there yet, or there without its
    cells yet (an ``IndexError`` reading them) means "not yet", not a failure."""
    return _Settling(
        driver,
        timeout,
        ignored_exceptions=(StaleElementReferenceException, NoSuchElementException, IndexError),
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Chromium is not installed: run `borderlens setup --test` (as root)")
    profile = tempfile.mkdtemp(prefix="bl-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        # WebGL (the vector-tile map) on SwiftShader, asked for rather than fallen back to
        # (the fallback logs a deprecation warning on every page).
        "--enable-unsafe-swiftshader",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1200,800",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    )
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


# -- alerts: a node (committed database copy), a webhook receiver, worker processes ----------


@pytest.fixture
def node(database_copy: Callable[[str], str], cache_dir: Path) -> Iterator[Node]:
    url = database_copy("alerts")
    settings = settings_for(url, cache_dir).model_copy(
        update={"webhook_allowed_hosts": ["127.0.0.1"]}
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BORDERLENS_DATA_DIR": str(cache_dir),
        "BORDERLENS_BOUNDARY_SOURCE": settings.boundary_source,
        "BORDERLENS_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]',
        "BORDERLENS_WEBHOOK_BACKOFF_S": "0.2",
        "BORDERLENS_WEBHOOK_BACKOFF_MAX_S": "1",
        "BORDERLENS_WEBHOOK_LEASE_S": "3",
        "BORDERLENS_WEBHOOK_TIMEOUT_S": "1",
    }
    engine = make_engine(url, pool_size=2)
    yield Node(url, settings, make_sessionmaker(engine), env)
    engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)
