"""End-to-end fixtures: a private copy of the example project, and a client per capability preset."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from lsp_helpers import CLIENTS, CONFIG, copy_examples, start_session, stop_session
from pytest_lsp import LanguageClient


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the example project (tests edit files on disk)."""
    return copy_examples(tmp_path_factory.mktemp("project") / "examples")


@pytest_lsp.fixture(config=CONFIG, params=CLIENTS, scope="module")
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient):
    root: Path = request.getfixturevalue("project")
    lsp_client.preset = request.param  # type: ignore[attr-defined]
    lsp_client.root = root  # type: ignore[attr-defined]
    lsp_client.init_result = await start_session(lsp_client, request.param, root)  # type: ignore[attr-defined]
    yield
    await stop_session(lsp_client)
