"""What importing the client costs: ``from flyte_ls.remote.remote import FlyteRemote`` (and building one,
which sends nothing) must not load what only some calls need. Each module below is imported where it is
used, on first use; a module-level import that comes back makes the matching case fail, naming the module.

Checked in a fresh interpreter (this one has imported everything already).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)

# module -> who needs it (where the deferred import lives)
DEFERRED = {
    "flyte_ls.remote.auth": "the first RPC builds the transport's authenticator (remote.py)",
    "flyteidl.service.auth_pb2": "auth discovery, after an UNAUTHENTICATED answer (auth/oauth.py)",
    "urllib.request": "OAuth2 token requests, uploads, signed-URL reads (auth/oauth.py, remote_register.py, "
    "remote_fetch.py)",
    "http.client": "urllib.request's HTTP (see urllib.request)",
    "email": "http.client's header parsing (see urllib.request)",
    "tempfile": "file token caches, fast-register archives (auth/cache.py, remote_register.py)",
    "pathspec": ".gitignore rules of whole-tree packaging (packaging.py)",
    "tarfile": "building a fast-register archive (packaging.py)",
    "gzip": "building a fast-register archive (packaging.py)",
    "msgpack": "STRUCT literals (literals.py, literals_python.py)",
    "google.protobuf.json_format": "generic STRUCT literals (literals_python.py)",
    "configparser": "INI config files (config.py)",
    "yaml": "YAML config files (config.py)",
    "uuid": "execution_name_prefix (remote_execute.py)",
    "croniter": "launch_backfill (remote_data.py)",
    "fsspec": "download (remote_data.py)",
    "flytekit": "register_script / fast_register_workflow with flytekit objects (remote_script.py)",
}

_PROBE = """
import json, sys
from flyte_ls.remote.remote import FlyteRemote
if {construct}:
    from flyte_ls.remote.config import Config
    remote = FlyteRemote(Config(endpoint="127.0.0.1:1", insecure=True), default_project="p")
    assert remote.default_project == "p"
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(construct: bool) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(construct=construct)],
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def imported() -> set[str]:
    return _modules_after(construct=False)


@pytest.fixture(scope="module")
def constructed() -> set[str]:
    return _modules_after(construct=True)


def _loaded(modules: set[str], name: str) -> list[str]:
    return sorted(m for m in modules if m == name or m.startswith(name + "."))


@pytest.mark.parametrize("name", sorted(DEFERRED))
def test_import_does_not_load(imported: set[str], name: str) -> None:
    assert not _loaded(imported, name), (
        f"importing FlyteRemote loaded {name}, needed only for {DEFERRED[name]}"
    )


@pytest.mark.parametrize("name", ["flyte_ls.remote.auth", "urllib.request", "pathspec", "flytekit"])
def test_construction_does_not_load(constructed: set[str], name: str) -> None:
    assert not _loaded(constructed, name), f"FlyteRemote() loaded {name}, needed only for {DEFERRED[name]}"


def test_the_client_itself_is_loaded(imported: set[str]) -> None:
    """The probe is not vacuous: the client, its transport and the Admin protos are there."""
    for name in ("flyte_ls.remote.remote", "flyte_ls.remote.transport", "grpc", "flyteidl.admin.task_pb2"):
        assert name in imported


def test_deferred_defaults_still_resolve() -> None:
    """The lazily imported defaults are the same objects as before: the sign-in hook is the auth package's
    log_device_code until set, and building the transport plugs auth in (no RPC is sent)."""
    from flyte_ls.remote.auth import log_device_code
    from flyte_ls.remote.config import Config
    from flyte_ls.remote.remote import AsyncFlyteRemote

    remote = AsyncFlyteRemote(Config(endpoint="127.0.0.1:1", insecure=True))
    assert remote.on_device_code is log_device_code

    def shown(code: object) -> None:
        return None

    remote.on_device_code = shown
    assert remote.on_device_code is shown
    transport = remote.transport
    assert transport is remote.transport
