"""Transport against a real local Admin: deadlines, the retry policy, metadata, error mapping.

The server is a real ``grpc.server`` serving the real local :class:`AdminServicer` over a real Store. To count
RPCs we need to see them where they arrive, so a server-side interceptor (``Wire``) counts every call by name
and records its metadata. Faults the local backend has no reason to produce — ``UNAVAILABLE`` from an
overloaded proxy in front of Admin, a handler that stalls, a server that rejects a token — are injected by the
same interceptor around the real handlers; a backend that is down is a closed port, for real.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import common_pb2, project_pb2
from flyteidl.core import identifier_pb2
from flyteidl.service import admin_pb2_grpc

from flyte_ls.local.admin import AdminServicer
from flyte_ls.local.store import Store
from flyte_ls.remote.errors import (
    FlyteAuthenticationException,
    FlyteEntityAlreadyExistsException,
    FlyteEntityNotExistException,
    FlyteInvalidInputException,
    FlyteSystemUnavailableException,
    FlyteTimeout,
)
from flyte_ls.remote.transport import Deadlines, MetadataPlugin, RetryPolicy, Transport

Handler = Callable[[Any, grpc.ServicerContext], Any]


@dataclass
class Wire(grpc.ServerInterceptor):
    """Counts RPCs by name as the server receives them and records their metadata; optionally fails the next
    ``fail[name]`` calls with a status, delays calls of ``slow`` names, or checks the authorization header."""

    calls: Counter[str] = field(default_factory=Counter)
    metadata: list[dict[str, str]] = field(default_factory=list)
    fail: dict[str, tuple[int, grpc.StatusCode]] = field(default_factory=dict)
    slow: dict[str, float] = field(default_factory=dict)
    token: str | None = None  # when set, calls without "authorization: Bearer <token>" are UNAUTHENTICATED
    released: threading.Event = field(default_factory=threading.Event)  # ends the stalls at teardown

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        name = details.method.rsplit("/", 1)[-1]
        self.calls[name] += 1
        headers = {k: v for k, v in details.invocation_metadata if isinstance(v, str)}
        self.metadata.append(headers)
        real = continuation(details)
        if real is None or real.unary_unary is None:
            return real
        inner: Handler = real.unary_unary
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            got = headers.get("authorization", "")
            inner = _abort(grpc.StatusCode.UNAUTHENTICATED, f"invalid authorization header: {got}")
        elif self.fail.get(name, (0, None))[0] > 0:
            left, code = self.fail[name]
            self.fail[name] = (left - 1, code)
            inner = _abort(code, "upstream connect error or disconnect/reset before headers")
        elif name in self.slow:
            inner = _stall(self.released, self.slow[name], inner)
        return grpc.unary_unary_rpc_method_handler(
            inner,
            request_deserializer=real.request_deserializer,
            response_serializer=real.response_serializer,
        )


def _abort(code: grpc.StatusCode, message: str) -> Handler:
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(code, message)

    return handler


def _stall(released: threading.Event, seconds: float, inner: Handler) -> Handler:
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        released.wait(seconds)  # a slow backend: the handler sleeps before answering
        return inner(request, context)

    return handler


@dataclass
class Server:
    wire: Wire
    endpoint: str


def serve(state_dir: Path, credentials: grpc.ServerCredentials | None = None) -> Iterator[Server]:
    store = Store(state_dir)
    wire = Wire()
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), interceptors=[wire])
    admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminServicer(store), grpc_server)
    if credentials is None:
        endpoint = f"127.0.0.1:{grpc_server.add_insecure_port('127.0.0.1:0')}"
    else:
        endpoint = f"localhost:{grpc_server.add_secure_port('127.0.0.1:0', credentials)}"
    grpc_server.start()
    try:
        yield Server(wire, endpoint)
    finally:
        wire.released.set()
        grpc_server.stop(None).wait(10)
        store.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from serve(tmp_path / "state")


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[bytes, bytes]:
    """A self-signed (key, certificate) for localhost, made by the real openssl."""
    openssl = shutil.which("openssl")
    assert openssl, "the TLS tests need the openssl command"
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return key.read_bytes(), cert.read_bytes()


@pytest.fixture
def tls_server(tmp_path: Path, certificate: tuple[bytes, bytes]) -> Iterator[Server]:
    yield from serve(tmp_path / "tls-state", grpc.ssl_server_credentials([certificate]))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed when the socket is: nothing listens there


def task_id(name: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(
        resource_type=identifier_pb2.TASK,
        project="flytesnacks",
        domain="development",
        name=name,
        version="v1",
    )


def project(ident: str) -> project_pb2.ProjectRegisterRequest:
    return project_pb2.ProjectRegisterRequest(project=project_pb2.Project(id=ident, name=ident))


@pytest.mark.timeout(30)
async def test_a_read_answers_through_the_real_admin(server: Server) -> None:
    async with Transport(server.endpoint, insecure=True) as transport:
        domains = await transport.call("GetDomains", project_pb2.GetDomainRequest(), kind="read")
        by_method = await transport.call(
            transport.admin.GetDomains, project_pb2.GetDomainRequest(), kind="read"
        )
    assert [d.id for d in domains.domains] == [d.id for d in by_method.domains]
    assert "development" in [d.id for d in domains.domains]
    assert server.wire.calls["GetDomains"] == 2


@pytest.mark.timeout(30)
async def test_not_found_is_sent_once(server: Server) -> None:
    async with Transport(server.endpoint, insecure=True) as transport:
        with pytest.raises(FlyteEntityNotExistException) as raised:
            await transport.call("GetTask", common_pb2.ObjectGetRequest(id=task_id("nope")), kind="read")
    assert server.wire.calls["GetTask"] == 1  # flytekit sends it four times
    message = str(raised.value)
    assert "GetTask" in message and server.endpoint in message
    assert "nope" in message  # Admin's details
    assert "check the project, domain, name and version" in message
    assert raised.value.code == grpc.StatusCode.NOT_FOUND


@pytest.mark.timeout(30)
async def test_already_exists_maps_and_is_not_retried(server: Server) -> None:
    async with Transport(server.endpoint, insecure=True) as transport:
        await transport.call("RegisterProject", project("twice"), kind="create")
        with pytest.raises(FlyteEntityAlreadyExistsException) as raised:
            await transport.call("RegisterProject", project("twice"), kind="create")
    assert server.wire.calls["RegisterProject"] == 2
    assert "already exists" in str(raised.value) and "new version" in str(raised.value)


@pytest.mark.timeout(30)
async def test_invalid_argument_maps_and_is_not_retried(server: Server) -> None:
    async with Transport(server.endpoint, insecure=True) as transport:
        with pytest.raises(FlyteInvalidInputException) as raised:
            await transport.call("RegisterProject", project("Not Valid!"), kind="create")
    assert server.wire.calls["RegisterProject"] == 1
    assert "invalid project id" in str(raised.value) and "fix the request" in str(raised.value)


@pytest.mark.timeout(30)
async def test_unavailable_is_retried_with_backoff_then_answers(server: Server) -> None:
    server.wire.fail["GetDomains"] = (2, grpc.StatusCode.UNAVAILABLE)
    policy = RetryPolicy(initial_backoff=0.2, multiplier=2.0)
    expected = random.Random(7)
    minimum = policy.backoff(1, expected) + policy.backoff(2, expected)  # what the seeded jitter will sleep
    async with Transport(server.endpoint, insecure=True, retry=policy, rng=random.Random(7)) as transport:
        started = time.monotonic()
        answer = await transport.call("GetDomains", project_pb2.GetDomainRequest(), kind="read")
        elapsed = time.monotonic() - started
    assert answer.domains
    assert server.wire.calls["GetDomains"] == 3
    assert elapsed >= minimum


@pytest.mark.timeout(30)
async def test_resource_exhausted_is_retried_until_attempts_run_out(server: Server) -> None:
    server.wire.fail["RegisterProject"] = (10, grpc.StatusCode.RESOURCE_EXHAUSTED)
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.01)
    async with Transport(server.endpoint, insecure=True, retry=policy) as transport:
        with pytest.raises(FlyteSystemUnavailableException) as raised:
            await transport.call("RegisterProject", project("busy"), kind="create")
    assert server.wire.calls["RegisterProject"] == 3
    assert "overloaded" in str(raised.value) and "after 3 attempts" in str(raised.value)


@pytest.mark.timeout(30)
async def test_backend_down_gives_a_clear_error_within_the_deadline() -> None:
    endpoint = f"127.0.0.1:{closed_port()}"
    async with Transport(endpoint, insecure=True) as transport:  # default deadlines and retry policy
        started = time.monotonic()
        with pytest.raises(FlyteSystemUnavailableException) as raised:
            await transport.call("GetTask", common_pb2.ObjectGetRequest(id=task_id("t")), kind="read")
        elapsed = time.monotonic() - started
    assert elapsed < transport.deadlines.read
    assert raised.value.code == grpc.StatusCode.UNAVAILABLE
    message = str(raised.value)
    assert message.startswith(f"{endpoint} is unavailable (GetTask after 5 attempts")  # retried, then gave up
    assert "`flyte-ls local start`" in message and "admin.endpoint" in message


@pytest.mark.timeout(30)
async def test_slow_backend_create_times_out_at_its_deadline_without_retry(server: Server) -> None:
    server.wire.slow["RegisterProject"] = 10.0
    async with Transport(server.endpoint, insecure=True, deadlines=Deadlines(create=0.5)) as transport:
        started = time.monotonic()
        with pytest.raises(FlyteTimeout) as raised:
            await transport.call("RegisterProject", project("slow"), kind="create")
        elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 2.0
    assert server.wire.calls["RegisterProject"] == 1  # a create that timed out may have landed: not resent
    assert "RegisterProject" in str(raised.value) and "no answer within 0.5 s" in str(raised.value)
    assert "raise the deadline" in str(raised.value)


@pytest.mark.timeout(30)
async def test_slow_backend_read_is_retried_within_the_budget(server: Server) -> None:
    server.wire.slow["GetTask"] = 10.0
    policy = RetryPolicy(initial_backoff=0.01, budget=1.0)
    transport = Transport(server.endpoint, insecure=True, deadlines=Deadlines(read=0.3), retry=policy)
    async with transport:
        started = time.monotonic()
        with pytest.raises(FlyteTimeout) as raised:
            await transport.call("GetTask", common_pb2.ObjectGetRequest(id=task_id("t")), kind="read")
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.5
    assert server.wire.calls["GetTask"] >= 3  # reads are idempotent: DEADLINE_EXCEEDED is retried
    assert "attempts" in str(raised.value)


@pytest.mark.timeout(30)
async def test_accept_and_plugin_metadata_reach_the_server(server: Server) -> None:
    async def async_headers() -> dict[str, str]:
        return {"X-Async": "2"}

    plugins: list[MetadataPlugin] = [lambda: {"X-Sync": "1"}, async_headers]
    async with Transport(server.endpoint, insecure=True, metadata_plugins=plugins) as transport:
        await transport.call("GetDomains", project_pb2.GetDomainRequest(), kind="read")
    sent = server.wire.metadata[-1]
    assert sent["accept"] == "application/grpc"
    assert sent["x-sync"] == "1" and sent["x-async"] == "2"


@pytest.mark.timeout(30)
async def test_unauthenticated_is_not_retried_and_the_message_has_no_token(server: Server) -> None:
    server.wire.token = "the-right-one"
    secret = "sekrit.token.value-123"
    plugins = [lambda: {"authorization": f"Bearer {secret}"}]
    async with Transport(server.endpoint, insecure=True, metadata_plugins=plugins) as transport:
        with pytest.raises(FlyteAuthenticationException) as raised:
            await transport.call("GetDomains", project_pb2.GetDomainRequest(), kind="read")
    assert server.wire.calls["GetDomains"] == 1
    assert secret not in str(raised.value) and secret not in raised.value.details  # the server echoed it
    assert "invalid authorization header" in str(raised.value) and "log in again" in str(raised.value)


@pytest.mark.timeout(30)
async def test_refresh_seam_repeats_the_call_once_with_fresh_metadata(server: Server) -> None:
    server.wire.token = "fresh"
    token = {"value": "stale"}
    refreshes = 0

    async def refresh() -> bool:
        nonlocal refreshes
        refreshes += 1
        token["value"] = "fresh"
        return True

    plugins = [lambda: {"authorization": f"Bearer {token['value']}"}]
    async with Transport(
        server.endpoint, insecure=True, metadata_plugins=plugins, on_unauthenticated=refresh
    ) as transport:
        answer = await transport.call("GetDomains", project_pb2.GetDomainRequest(), kind="read")
        assert answer.domains
        server.wire.token = "never-matches"
        with pytest.raises(FlyteAuthenticationException):
            await transport.call("GetDomains", project_pb2.GetDomainRequest(), kind="read")
    assert server.wire.calls["GetDomains"] == 4  # each call: one refresh at most
    assert refreshes == 2


@pytest.mark.timeout(30)
async def test_channel_options_and_lifecycle(server: Server) -> None:
    transport = Transport(server.endpoint, insecure=True, options=[("grpc.keepalive_time_ms", 5000)])
    options = dict(transport.options)
    assert options["grpc.max_receive_message_length"] == 20 * 1024 * 1024
    assert options["grpc.keepalive_time_ms"] == 5000 and options["grpc.keepalive_timeout_ms"] == 10_000
    assert options["grpc.keepalive_permit_without_calls"] == 1
    with pytest.raises(ValueError, match="no RPC named 'GetTsk'"):
        await transport.call("GetTsk", common_pb2.ObjectGetRequest(), kind="read")
    with pytest.raises(ValueError, match="kind must be"):
        await transport.call("GetDomains", project_pb2.GetDomainRequest(), kind="delete")  # type: ignore[arg-type]
    await transport.aclose()
    with pytest.raises(RuntimeError, match="is closed"):
        await transport.call("GetDomains", project_pb2.GetDomainRequest(), kind="read")


@pytest.mark.timeout(30)
def test_a_transport_serves_one_event_loop(server: Server) -> None:
    transport = Transport(server.endpoint, insecure=True)

    async def call() -> None:
        await transport.call("GetDomains", project_pb2.GetDomainRequest(), kind="read")

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(call())
        with pytest.raises(RuntimeError, match="another event loop"):
            asyncio.run(call())
        loop.run_until_complete(transport.aclose())
    finally:
        loop.close()


@pytest.mark.timeout(60)
async def test_tls_with_the_servers_ca_and_a_clear_error_without_it(
    tls_server: Server, certificate: tuple[bytes, bytes]
) -> None:
    trusted = Transport(tls_server.endpoint, insecure=False, root_certificates=certificate[1])
    async with trusted:
        answer = await trusted.call("GetDomains", project_pb2.GetDomainRequest(), kind="read")
    assert answer.domains
    untrusted = Transport(
        tls_server.endpoint, insecure=False
    )  # the system roots do not know this certificate
    async with untrusted:
        started = time.monotonic()
        with pytest.raises(FlyteSystemUnavailableException) as raised:
            await untrusted.call("GetDomains", project_pb2.GetDomainRequest(), kind="read")
    assert time.monotonic() - started < 2.0  # not retried: the certificate will not become trusted
    message = str(raised.value)
    assert "certificate is not trusted" in message and "caCertFilePath" in message
    assert tls_server.wire.calls["GetDomains"] == 1  # only the trusted call got through
