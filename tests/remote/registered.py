"""A real `flyte-ls local start` backend with one package of tests/remote/data registered by the real `pyflyte
register` (what the module-scoped `backend` fixtures of the tests here start), a client for it, and one run of
a launch plan to completion."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import execution_pb2 as core_execution_pb2

from flyte_ls.remote.config import Config
from flyte_ls.remote.remote import AsyncFlyteRemote

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import Backend, register_copy, start_backend

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
DATA = Path(__file__).parent / "data"


@contextlib.contextmanager
def registered_backend(tmp_path_factory: pytest.TempPathFactory, package: str) -> Iterator[Backend]:
    """Start a backend, register `tests/remote/data/<package>` (as PROJECT/DOMAIN/VERSION), stop it after."""
    root = tmp_path_factory.mktemp(package)
    backend = start_backend(root / "state")
    try:
        register_copy(backend, DATA / package, root / "proj", PROJECT, DOMAIN, VERSION)
        yield backend
    finally:
        backend.stop()


def remote_for(config: Path) -> AsyncFlyteRemote:
    """A client for the backend `config` points at, PROJECT/DOMAIN as its defaults (use it `async with`)."""
    return AsyncFlyteRemote(Config.auto(str(config)), default_project=PROJECT, default_domain=DOMAIN)


def finished_execution(config: Path, launch_plan: str, inputs: Mapping[str, Any], **options: Any) -> str:
    """Run `lp:PROJECT:DOMAIN:<launch_plan>:VERSION` with `inputs` (and execute's `options`) to success
    within 180 s, on an event loop of its own (for module-scoped fixtures); the execution's name."""

    async def run() -> str:
        async with remote_for(config) as r:
            ex = await r.execute(f"lp:{PROJECT}:{DOMAIN}:{launch_plan}:{VERSION}", dict(inputs), **options)
            ex = await r.wait(ex, timeout=180)
            assert ex.closure.phase == core_execution_pb2.WorkflowExecution.SUCCEEDED, ex.closure.error
            return ex.id.name

    return asyncio.run(run())
