"""The secret that signs sign-in cookies: the setting when given, else one generated once and
kept private in the data dir."""

from __future__ import annotations

import stat
from pathlib import Path

from pydantic import SecretStr

from app.html.session import SECRET_FILE, secret_key
from app.settings import Settings


def test_generated_once_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = secret_key(settings)
    path = tmp_path / "data" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 43, "at least 256 bits"
    assert secret_key(settings) == first, "sessions survive a restart"
    assert secret_key(Settings(data_dir=tmp_path / "other")) != first


def test_the_setting_wins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr("from-the-environment"))
    assert secret_key(settings) == "from-the-environment"
    assert not (tmp_path / SECRET_FILE).exists()
