"""The README says what the code does: the configuration table is the code's own."""

from __future__ import annotations

from app.settings import PROJECT_ROOT, configuration_table


def test_readme_configuration_table_matches_the_settings() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert configuration_table() in readme, "run `borderlens config` and paste the table"


def test_readme_commands_exist() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "./.ci/bootstrap && .venv/bin/borderlens serve --demo" in readme
    assert "./.ci/bootstrap --test && .venv/bin/pytest" in readme
    ci = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "./.ci/bootstrap --test && .venv/bin/pytest" in ci
