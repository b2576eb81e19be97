"""The backend's HTTP server: refused uploads (traversal, symlinks, signatures, size), console URLs,
``/healthz`` — against a started backend with a 1 MiB upload limit."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
from flyteidl.service import dataproxy_pb2, dataproxy_pb2_grpc
from local_backend import VENV_PYTHON, Backend, start_backend

from flyte_ls.local.http import file_url

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("http") / "state", "--max-upload-mib", "1")
    yield b
    b.stop()


@pytest.fixture(scope="module")
def stub(backend: Backend) -> Iterator[dataproxy_pb2_grpc.DataProxyServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as channel:
        yield dataproxy_pb2_grpc.DataProxyServiceStub(channel)


def request(
    backend: Backend,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    port: int | None = None,
) -> tuple[int, str, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port or backend.http_port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        hdrs = dict(headers or {})
        if body is not None and "Content-Length" not in hdrs and "Transfer-Encoding" not in hdrs:
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body is not None:
            try:
                conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may refuse before reading the body
        resp = conn.getresponse()
        return resp.status, resp.read().decode(), dict(resp.getheaders())
    finally:
        conn.close()


def signed_target(
    stub: dataproxy_pb2_grpc.DataProxyServiceStub, body: bytes, **fields: object
) -> tuple[str, str]:
    req = dataproxy_pb2.CreateUploadLocationRequest(
        project="flytesnacks", domain="development", content_md5=hashlib.md5(body).digest(), **fields
    )
    resp = stub.CreateUploadLocation(req, timeout=10)
    url = urlsplit(resp.signed_url)
    return f"{url.path}?{url.query}", resp.native_url


def md5_header(body: bytes) -> dict[str, str]:
    return {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())


def test_signed_put_works(backend: Backend, stub: dataproxy_pb2_grpc.DataProxyServiceStub) -> None:
    body = b"hello"
    target, native = signed_target(stub, body, filename="hello.txt")
    status, _, _ = request(backend, "PUT", target, body, md5_header(body))
    assert status == 201
    assert Path(native).read_bytes() == body


@pytest.mark.parametrize(
    "path",
    [
        "/upload/../../../outside.txt",
        "/upload/flytesnacks/development/%2e%2e/%2e%2e/%2e%2e/%2e%2e/outside.txt",
        "/upload/flytesnacks/development/root%2f..%2f..%2f../outside.txt",
        "/upload//etc/outside.txt",
        "/upload/flytesnacks/development/a\\..\\..\\outside.txt",
    ],
)
def test_traversal_is_refused(backend: Backend, path: str) -> None:
    body = b"evil"
    before = files_under(backend.state_dir)
    status, message, _ = request(backend, "PUT", path + "?expires=9999999999&md5=&signature=x", body)
    assert status in (400, 403), message
    assert files_under(backend.state_dir) == before
    assert not (backend.state_dir.parent / "outside.txt").exists()


def test_forged_signature_is_refused(backend: Backend, stub: dataproxy_pb2_grpc.DataProxyServiceStub) -> None:
    body = b"payload"
    target, native = signed_target(stub, body, filename="a.txt")
    forged = target.replace("a.txt", "b.txt")
    status, message, _ = request(backend, "PUT", forged, body, md5_header(body))
    assert status == 403 and "signature" in message
    tampered_expiry = target.replace("expires=", "expires=1")
    status, _, _ = request(backend, "PUT", tampered_expiry, body, md5_header(body))
    assert status == 403
    assert not Path(native).exists() and not Path(native).with_name("b.txt").exists()


def test_symlink_out_of_uploads_is_refused(
    backend: Backend, stub: dataproxy_pb2_grpc.DataProxyServiceStub, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    body = b"through a symlink"
    target, native = signed_target(stub, body, filename="f.txt", filename_root="linked")
    Path(native).parent.parent.mkdir(parents=True, exist_ok=True)
    Path(native).parent.symlink_to(outside, target_is_directory=True)
    status, message, _ = request(backend, "PUT", target, body, md5_header(body))
    assert status == 403 and "outside the uploads directory" in message
    assert list(outside.iterdir()) == []


def test_oversized_body_is_refused(backend: Backend, stub: dataproxy_pb2_grpc.DataProxyServiceStub) -> None:
    body = b"x" * (1024 * 1024 + 1)
    target, native = signed_target(stub, body, filename="big.bin")
    status, message, _ = request(backend, "PUT", target, body, md5_header(body))
    assert status == 413 and "--max-upload-mib" in message
    assert not Path(native).exists()


def test_put_without_length_is_refused(
    backend: Backend, stub: dataproxy_pb2_grpc.DataProxyServiceStub
) -> None:
    body = b"chunked"
    target, native = signed_target(stub, body, filename="chunked.bin")
    status, _, _ = request(
        backend, "PUT", target, b"7\r\nchunked\r\n0\r\n\r\n", {"Transfer-Encoding": "chunked"}
    )
    assert status == 411
    assert not Path(native).exists()


def test_bad_content_md5_header(backend: Backend, stub: dataproxy_pb2_grpc.DataProxyServiceStub) -> None:
    body = b"data"
    target, native = signed_target(stub, body, filename="m.bin")
    status, message, _ = request(backend, "PUT", target, body, {"Content-MD5": "not base64!"})
    assert status == 400 and "Content-MD5" in message
    assert not Path(native).exists()


def test_server_survives_refusals(backend: Backend) -> None:
    status, body, _ = request(backend, "GET", "/healthz")
    assert status == 200 and json.loads(body)["pid"] == backend.proc.pid


@pytest.mark.parametrize(
    ("path", "expected", "names"),
    [
        (
            "/console/projects/flytesnacks/domains/development/executions/abc123",
            404,
            ["execution [flytesnacks/development/abc123] does not exist"],
        ),
        (
            "/console/projects/flytesnacks/domains/development/task/wf.t1/version/v1",
            404,
            ["wf.t1", "v1", "does not exist"],
        ),
        ("/console/projects/flytesnacks/executions?domain=development", 200, ["flytesnacks / development"]),
        ("/console/projects/flytesnacks/domains/development/executions", 200, ["flytesnacks / development"]),
        ("/console", 200, ["local Flyte backend"]),
    ],
)
def test_console_urls_open(backend: Backend, path: str, expected: int, names: list[str]) -> None:
    """The console URLs flytekit prints (console.endpoint + /console/...) reach the console pages (an
    execution that does not exist is a 404 page saying so; test_cli runs a real one)."""
    status, body, headers = request(backend, "GET", path)
    assert status == expected
    assert headers["Content-Type"].startswith("text/html")
    for name in names:
        assert name in body


def test_grpc_port_serves_http_too(backend: Backend) -> None:
    """Clients without console.endpoint (Config.for_sandbox()) print console URLs on the gRPC port."""
    conn = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=30)
    try:
        conn.request("GET", "/console/projects/flytesnacks/domains/development/executions")
        resp = conn.getresponse()
        assert resp.status == 200 and "executions" in resp.read().decode()
        conn.request("GET", "/healthz")  # keep-alive: a second request on the same connection
        resp = conn.getresponse()
        assert json.loads(resp.read())["pid"] == backend.proc.pid
    finally:
        conn.close()


def test_silent_connections_do_not_disturb(
    backend: Backend, stub: dataproxy_pb2_grpc.DataProxyServiceStub
) -> None:
    """A client that connects to the shared port and sends nothing (a port probe) is dropped quietly."""
    probes = [socket.create_connection(("127.0.0.1", backend.port), timeout=5) for _ in range(5)]
    try:
        target, _ = signed_target(stub, b"x", filename="probe.txt")
        assert target.startswith("/upload/")
    finally:
        for p in probes:
            p.close()


def test_unknown_paths(backend: Backend) -> None:
    assert request(backend, "GET", "/nope")[0] == 404
    assert request(backend, "PUT", "/elsewhere", b"x")[0] == 404


_FLYTEKIT_URLS = """
import json, sys
from flytekit.configuration import Config
from flytekit.models.core.identifier import Identifier, ResourceType, WorkflowExecutionIdentifier
from flytekit.remote import FlyteRemote
remote = FlyteRemote(Config.auto(config_file=sys.argv[1]))
p, d = "flytesnacks", "development"
print(json.dumps([
    remote.generate_console_url(WorkflowExecutionIdentifier(p, d, "f7a1b2c3")),
    remote.generate_console_url(Identifier(ResourceType.TASK, p, d, "wf.t1", "v1")),
    remote.generate_console_url(Identifier(ResourceType.LAUNCH_PLAN, p, d, "wf.lp", "v1")),
]))
"""


@pytest.mark.flytekit
@pytest.mark.parametrize("console_endpoint", [True, False])
def test_flytekit_console_urls_open(backend: Backend, tmp_path: Path, console_endpoint: bool) -> None:
    """The console URLs flytekit builds open a page on this backend: from the generated config.yaml
    (console.endpoint = the HTTP port) and from a config without console.endpoint (the gRPC port)."""
    config = backend.config
    port = backend.http_port
    if not console_endpoint:
        config = tmp_path / "no-console.yaml"
        config.write_text(f"admin:\n  endpoint: dns:///127.0.0.1:{backend.port}\n  insecure: true\n")
        port = backend.port
    proc = subprocess.run(
        [VENV_PYTHON, "-c", _FLYTEKIT_URLS, str(config)], capture_output=True, text=True, timeout=90
    )
    assert proc.returncode == 0, proc.stderr
    urls = json.loads(proc.stdout.strip().splitlines()[-1])
    # none of these exist: each reaches its console page, which says so (test_cli opens existing ones)
    for url, name, expected in zip(urls, ["f7a1b2c3", "wf.t1", "wf.lp"], [404, 404, 404], strict=True):
        parts = urlsplit(url)
        assert parts.netloc == f"127.0.0.1:{port}", url
        status, body, _ = request(backend, "GET", parts.path, port=parts.port)
        assert status == expected and name in body, url


def test_data_files_are_served(backend: Backend, stub: dataproxy_pb2_grpc.DataProxyServiceStub) -> None:
    """/files/<path in the state dir>: how task logs, decks and uploads are linked from records."""
    body = b"<html>a deck</html>"
    target, native = signed_target(stub, body, filename="deck.html")
    assert request(backend, "PUT", target, body, md5_header(body))[0] == 201
    url = file_url(backend.http, backend.state_dir, Path(native))
    path = urlsplit(url).path
    status, text, headers = request(backend, "GET", path)
    assert status == 200 and text == body.decode()
    assert headers["Content-Type"].startswith("text/html")
    # a deck: sandboxed (an origin of its own) and loading nothing from elsewhere (flytekit's template links
    # Google Fonts); its inline scripts and styles run
    directives = [d.strip() for d in headers["Content-Security-Policy"].split(";")]
    assert directives == [
        "sandbox allow-scripts allow-popups",
        "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:",
    ]
    assert request(backend, "HEAD", path)[:2] == (200, "")


def test_private_and_outside_files_are_not_served(backend: Backend, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (backend.state_dir / "uploads" / "link-out").symlink_to(secret)
    (backend.state_dir / "tmp" / "uploads" / "put-x.part").write_text("partial")
    for path, expected in [
        ("/files/status.json", 403),
        ("/files/config.yaml", 403),
        ("/files/tmp/uploads/put-x.part", 403),
        ("/files/../../etc/passwd", 400),
        ("/files/uploads/%2e%2e/%2e%2e/etc/passwd", 400),
        ("/files/uploads/link-out", 404),
        ("/files/uploads/does-not-exist", 404),
    ]:
        status, text, _ = request(backend, "GET", path)
        assert status == expected, (path, status, text)
        assert "secret" not in text
