"""The notebooks run, top to bottom, so they cannot rot: on files alone, and against a live
service (where the notebook itself checks that its figures equal the API's)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from app.services.boundary_state import BoundaryCache
from app.services.demo import load_demo_sites
from app.settings import PROJECT_ROOT
from tests.e2e.conftest import LiveServer

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def run(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return notebook


def errors(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        output.get("ename", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_files_alone(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BORDERLENS_URL", raising=False)
    assert errors(run(path)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_agrees_with_a_live_service(
    path: Path, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_server.sessions() as session:
        assert load_demo_sites(session, live_server.settings, BoundaryCache()) == 30
    monkeypatch.setenv("BORDERLENS_URL", live_server.url)
    notebook = run(path)
    assert errors(notebook) == []
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    assert f"service: {live_server.url}" in printed
    assert "largest difference from the service" in printed
