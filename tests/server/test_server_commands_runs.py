"""``server.runs`` wiring (unit level): the Backend it builds gets the workspace as ``cwd`` and the worker's
interpreter as ``local_python``; a command whose RPC found the backend unavailable makes the next one check it
again at once."""

from __future__ import annotations

import time
from typing import Any

import pytest

from flyte_ls.remote.errors import FlyteSystemUnavailableException, FlyteUserException
from flyte_ls.server.runs import RunService
from flyte_ls.server.server import FlyteLanguageServer
from flyte_ls.server.settings import parse_settings

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def server() -> Any:
    ls = FlyteLanguageServer()
    yield ls
    ls.lint_worker.close()
    ls.index_executor.shutdown(wait=False)


def test_the_backend_gets_the_workspace_and_the_workers_interpreter(server: Any, tmp_path: Any) -> None:
    settings, problems, _ = parse_settings({"pythonPath": "/opt/user/bin/python"})
    assert not problems
    server.settings = settings
    runs = RunService(server)
    backend = runs._make_backend(settings)
    assert backend.cwd == runs.workspace_root()
    assert backend.local_python == "/opt/user/bin/python"
    # No flyte.pythonPath: the editor's interpreter (initializationOptions.pythonPath) ...
    server.init_options = {"pythonPath": "/editor/python"}
    plain, _, _ = parse_settings({})
    assert runs._make_backend(plain).local_python == "/editor/python"
    # ... and once the worker resolved one, that one.
    runs.worker = runs._make_worker(plain)
    runs.worker._python = "/resolved/python3"
    assert runs._make_backend(plain).local_python == "/resolved/python3"


def test_an_unavailable_backend_is_checked_again_at_the_next_command(server: Any) -> None:
    runs = RunService(server)
    plain, _, _ = parse_settings({})
    backend = runs.backend = runs._make_backend(plain)
    backend._checked_at = time.monotonic()  # a healthy answer just now: trusted for recheck_after seconds
    runs.rpc_failed(FlyteUserException("bad input"))
    assert backend._checked_at > 0  # not the backend's fault
    runs.rpc_failed(FlyteSystemUnavailableException("UNAVAILABLE: connection refused"))
    assert backend._checked_at == 0.0
