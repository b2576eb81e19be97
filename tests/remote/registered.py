"""A real `flyte-ls local start` backend with one package of tests/remote/data registered by the real `pyflyte
register`: what the module-scoped `backend` fixtures of the tests here start."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

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
