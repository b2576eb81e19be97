"""Faults, seen through the public synchronous :class:`FlyteRemote` (not the Transport): a backend that is
down (a closed port, and a real server stopped mid-session), a slow backend (a real gRPC server on 127.0.0.1 —
the real Admin servicer — whose handler sleeps), the retry policy (a ``NOT_FOUND`` reaches the server exactly
once, counted server-side; flytekit's FlyteRemote sends it four times), and an auth failure against
``flyte-ls local start --auth client-secret`` (a clear message; no secret in any log record).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flyte_ls.remote.errors import (
    FlyteAuthenticationException,
    FlyteEntityNotExistException,
    FlyteSystemException,
    FlyteSystemUnavailableException,
    FlyteTimeout,
    FlyteUserException,
)
from flyte_ls.remote.remote import FlyteRemote
from flyte_ls.remote.transport import Deadlines, RetryPolicy

from .test_transport import Server, closed_port, serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import Backend, start_backend

PROJECT, DOMAIN = "flytesnacks", "development"
READ_DEADLINE_S = Deadlines().read


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from serve(tmp_path / "state")


def remote_for(endpoint: str, **options: Any) -> FlyteRemote:
    """A client for ``endpoint``; ``options`` are the constructor's (``deadlines=``, ``retry=``)."""
    return FlyteRemote.for_endpoint(endpoint, True, default_project=PROJECT, default_domain=DOMAIN, **options)


# --- backend down ----------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_backend_down_is_a_clear_error_within_the_deadline() -> None:
    endpoint = f"127.0.0.1:{closed_port()}"
    with remote_for(endpoint) as remote:
        for call in (
            lambda: remote.fetch_task(name="t", version="v1"),
            lambda: remote.list_projects(),
            lambda: remote.wait("ex1", timeout=120),  # fails fast: no poll loop on a dead backend
        ):
            started = time.monotonic()
            with pytest.raises(FlyteSystemUnavailableException) as raised:
                call()
            assert time.monotonic() - started < READ_DEADLINE_S
            assert isinstance(raised.value, FlyteSystemException)
            message = str(raised.value)
            assert message.startswith(f"{endpoint} is unavailable")
            assert "`flyte-ls local start`" in message and "admin.endpoint" in message


@pytest.mark.timeout(60)
def test_a_backend_that_goes_away_mid_session(tmp_path: Path) -> None:
    servers = serve(tmp_path / "state")
    server = next(servers)
    with remote_for(server.endpoint) as remote:
        assert "development" in [d.id for d in remote.get_domains()]
        servers.close()  # stops the real server (and its store)
        started = time.monotonic()
        with pytest.raises(FlyteSystemUnavailableException, match="is unavailable"):
            remote.get_domains()
        assert time.monotonic() - started < READ_DEADLINE_S


# --- slow backend ----------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_slow_backend_read_gives_flyte_timeout_at_the_deadline(server: Server) -> None:
    server.wire.slow["GetTask"] = 20.0  # the handler sleeps far longer than the deadline
    # the deadline and retry budget are constructor options of the remote
    once = RetryPolicy(max_attempts=1)
    with remote_for(server.endpoint, deadlines=Deadlines(read=0.5), retry=once) as remote:
        assert remote.transport.deadlines.read == 0.5 and remote.transport.retry.max_attempts == 1
        started = time.monotonic()
        with pytest.raises(FlyteTimeout) as raised:
            remote.fetch_task(name="t", version="v1")
        elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 2.0
    assert server.wire.calls["GetTask"] == 1
    assert isinstance(raised.value, FlyteUserException)  # flytekit's hierarchy: FlyteTimeout < FlyteAssertion
    message = str(raised.value)
    assert "GetTask" in message and "no answer within 0.5 s" in message and "raise the deadline" in message


@pytest.mark.timeout(60)
def test_slow_backend_read_retries_within_the_budget_then_times_out(server: Server) -> None:
    server.wire.slow["ListProjects"] = 20.0
    retry = RetryPolicy(initial_backoff=0.01, budget=1.2)
    with remote_for(server.endpoint, deadlines=Deadlines(read=0.3), retry=retry) as remote:
        started = time.monotonic()
        with pytest.raises(FlyteTimeout, match="attempts"):
            remote.list_projects()
        elapsed = time.monotonic() - started
    assert 1.1 <= elapsed < 3.0  # the budget, not attempts x the deadline
    assert server.wire.calls["ListProjects"] >= 3  # a read is idempotent: retried


@pytest.mark.timeout(60)
def test_slow_backend_update_is_not_resent(server: Server) -> None:
    server.wire.slow["TerminateExecution"] = 20.0
    with remote_for(server.endpoint, deadlines=Deadlines(update=0.5)) as remote:
        started = time.monotonic()
        with pytest.raises(FlyteTimeout):
            remote.terminate("ex1", "stop")
        assert time.monotonic() - started < 2.0
    assert server.wire.calls["TerminateExecution"] == 1  # it may have landed: never resent


# --- retry policy, counted by the server ---------------------------------------------------------------


@pytest.mark.timeout(60)
def test_not_found_is_sent_exactly_once(server: Server) -> None:
    with remote_for(server.endpoint) as remote:
        calls = [
            ("GetTask", lambda: remote.fetch_task(name="nope", version="v1")),
            ("GetWorkflow", lambda: remote.fetch_workflow(name="nope", version="v1")),
            ("GetLaunchPlan", lambda: remote.fetch_launch_plan(name="nope", version="v1")),
            ("GetExecution", lambda: remote.fetch_execution(name="nope")),
            ("ListTasks", lambda: remote.fetch_task(name="nope")),  # latest: an empty list
        ]
        for rpc, call in calls:
            with pytest.raises(FlyteEntityNotExistException) as raised:
                call()
            assert server.wire.calls[rpc] == 1, rpc
            assert "nope" in str(raised.value)
        assert remote.fetch_active_launchplan(name="nope") is None
        assert server.wire.calls["GetActiveLaunchPlan"] == 1
        with pytest.raises(FlyteEntityNotExistException):
            remote.terminate("nope", "stop")
        assert server.wire.calls["TerminateExecution"] == 1


@pytest.mark.flytekit
@pytest.mark.timeout(60)
def test_flytekit_sends_the_same_not_found_four_times(server: Server) -> None:
    """The contrast the policy is for (reference §1): flytekit retries every mapped error."""
    from flytekit.exceptions.user import FlyteEntityNotExistException as FkNotExist
    from flytekit.remote import FlyteRemote as FkRemote

    fk = FkRemote.for_endpoint(server.endpoint, insecure=True)
    with pytest.raises(FkNotExist):
        fk.fetch_task(PROJECT, DOMAIN, "nope", "v1")
    assert server.wire.calls["GetTask"] == 4
    with remote_for(server.endpoint) as remote, pytest.raises(FlyteEntityNotExistException):
        remote.fetch_task(PROJECT, DOMAIN, "nope", "v1")
    assert server.wire.calls["GetTask"] == 5


# --- auth failure ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("faults-auth") / "state", "--auth", "client-secret")
    yield b
    b.stop()


@pytest.mark.timeout(90)
def test_wrong_client_secret_is_clear_and_never_logged(
    auth_backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = (auth_backend.state_dir / "client-secret").read_text().strip()
    wrong = "stale-" + secret[::-1]
    # the user's config names a secret file that holds a stale secret
    stale = tmp_path / "client-secret"
    stale.write_text(wrong + "\n")
    stale.chmod(0o600)
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        auth_backend.config.read_text().replace(str(auth_backend.state_dir / "client-secret"), str(stale))
    )
    with FlyteRemote.auto(config_file, default_project=PROJECT, default_domain=DOMAIN) as remote:
        assert remote.config.client_credentials_secret == wrong
        started = time.monotonic()
        with pytest.raises(FlyteAuthenticationException) as raised:
            remote.list_projects()
        assert time.monotonic() - started < READ_DEADLINE_S
        shown = [str(raised.value), repr(raised.value), repr(remote), repr(remote.config)]
    message = str(raised.value)
    assert "invalid_client" in message and "clientSecretLocation" in message
    # the right secret works through the same public path, and leaves no secret behind either
    with FlyteRemote.auto(auth_backend.config, default_project=PROJECT, default_domain=DOMAIN) as remote:
        assert [p.id for p in remote.list_projects()] == [PROJECT]
        shown += [repr(remote), repr(remote.config), repr(remote.transport)]
    records = [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records]
    assert caplog.records, "expected DEBUG records from the client"
    everything = "\n".join([*records, caplog.text, *shown, auth_backend.stdout(), auth_backend.stderr()])
    for leaked in (secret, wrong, secret[:8], wrong[:14]):
        assert leaked not in everything
