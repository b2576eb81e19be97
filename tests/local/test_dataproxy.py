"""DataProxyService.CreateUploadLocation and the PUT it hands out, against a started backend (real gRPC,
real HTTP), plus flytekit's own upload path (FlyteRemote) against it."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import stat
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from flyteidl.admin import execution_pb2
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import dataproxy_pb2, dataproxy_pb2_grpc
from google.protobuf import duration_pb2
from local_backend import NO_PROXY, VENV_PYTHON, Backend, free_port, start_backend, upload

from flyte_ls.local.flyte_urls import parse

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("dataproxy") / "state")
    yield b
    b.stop()


@pytest.fixture(scope="module")
def stub(backend: Backend) -> Iterator[dataproxy_pb2_grpc.DataProxyServiceStub]:
    with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as channel:
        yield dataproxy_pb2_grpc.DataProxyServiceStub(channel)


def location(
    stub: dataproxy_pb2_grpc.DataProxyServiceStub, **fields: object
) -> dataproxy_pb2.CreateUploadLocationResponse:
    req = dataproxy_pb2.CreateUploadLocationRequest(
        **{"project": "flytesnacks", "domain": "development", **fields}
    )
    return stub.CreateUploadLocation(req, timeout=10)


def test_upload_by_md5(stub: dataproxy_pb2_grpc.DataProxyServiceStub, backend: Backend) -> None:
    body = b"fast-registered code\n" * 100
    md5 = hashlib.md5(body).digest()
    resp = location(stub, filename="fastabc.tar.gz", content_md5=md5, add_content_md5_metadata=True)
    b32 = base64.b32encode(md5).decode()
    expected = backend.state_dir / "uploads" / "flytesnacks" / "development" / b32 / "fastabc.tar.gz"
    assert resp.native_url == str(expected)  # a plain absolute path, not file://
    assert resp.signed_url.startswith(f"http://127.0.0.1:{backend.http_port}/upload/")
    assert resp.headers["Content-MD5"] == base64.b64encode(md5).decode()
    now = datetime.datetime.now(datetime.timezone.utc).timestamp()
    assert now + 3000 < resp.expires_at.seconds <= now + 3700
    assert not expected.exists()

    assert upload(resp.signed_url, body, md5)[0] == 201
    assert expected.read_bytes() == body
    # fast registration asks again for the same content: same place, and the PUT rewrites it
    again = location(stub, filename="fastabc.tar.gz", content_md5=md5)
    assert again.native_url == resp.native_url
    assert upload(again.signed_url, body, md5)[0] == 201
    assert expected.read_bytes() == body


def test_wrong_md5_writes_nothing(stub: dataproxy_pb2_grpc.DataProxyServiceStub, backend: Backend) -> None:
    body = b"the real content"
    md5 = hashlib.md5(body).digest()
    resp = location(stub, filename="data.bin", content_md5=md5)
    status, message = upload(resp.signed_url, b"something else!", hashlib.md5(b"something else!").digest())
    assert status == 400 and "differs from the content_md5" in message
    status, message = upload(resp.signed_url, body, hashlib.md5(b"other").digest())
    assert status == 400 and "Content-MD5 mismatch" in message and "nothing was stored" in message
    assert not Path(resp.native_url).exists()
    assert list((backend.state_dir / "tmp" / "uploads").iterdir()) == []


def test_filename_root_and_already_exists(
    stub: dataproxy_pb2_grpc.DataProxyServiceStub, backend: Backend
) -> None:
    first = b"version one"
    md5 = hashlib.md5(first).digest()
    resp = location(stub, filename="model.pt", filename_root="my-root", content_md5=md5)
    assert resp.native_url == str(backend.state_dir / "uploads/flytesnacks/development/my-root/model.pt")
    assert upload(resp.signed_url, first, md5)[0] == 201
    # same name, same content: fine
    assert location(stub, filename="model.pt", filename_root="my-root", content_md5=md5).native_url
    # same name, other content (or no hash): ALREADY_EXISTS, as Admin
    with pytest.raises(grpc.RpcError) as err:
        location(stub, filename="model.pt", filename_root="my-root", content_md5=hashlib.md5(b"v2").digest())
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "already exists" in str(err.value.details())
    with pytest.raises(grpc.RpcError) as err:
        location(stub, filename="model.pt", filename_root="my-root")
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert Path(resp.native_url).read_bytes() == first


def test_filename_root_only_gets_a_random_name(stub: dataproxy_pb2_grpc.DataProxyServiceStub) -> None:
    """fsspec's streaming writer sends only filename_root; the backend picks the file name."""
    resp = location(stub, filename_root="frame.parquet")
    name = Path(resp.native_url).name
    assert Path(resp.native_url).parent.name == "frame.parquet" and len(name) == 20
    assert upload(resp.signed_url, b"streamed", None)[0] == 201
    assert Path(resp.native_url).read_bytes() == b"streamed"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"project": "", "content_md5": b"0" * 16}, "project and domain are required"),
        ({"domain": "", "content_md5": b"0" * 16}, "project and domain are required"),
        ({"filename": "x"}, "content_md5 or filename_root is a required parameter"),
        ({"content_md5": b"short"}, "16-byte MD5"),
        ({"filename_root": "..", "filename": "x"}, "not a valid path component"),
        ({"filename_root": "a/b", "filename": "x"}, "not a valid path component"),
        ({"filename_root": "r", "filename": "../../../escape"}, "not a valid path component"),
        ({"filename_root": "r", "filename": "/etc/passwd"}, "must be relative"),
        ({"project": "../..", "filename_root": "r"}, "not a valid path component"),
        ({"filename_root": "r", "expires_in": duration_pb2.Duration(seconds=7200)}, "cannot exceed"),
    ],
)
def test_invalid_requests(stub: dataproxy_pb2_grpc.DataProxyServiceStub, fields: dict, message: str) -> None:
    with pytest.raises(grpc.RpcError) as err:
        location(stub, **fields)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in str(err.value.details())


def test_oversized_request_is_refused(stub: dataproxy_pb2_grpc.DataProxyServiceStub) -> None:
    """Admin's 20 MiB message limit."""
    with pytest.raises(grpc.RpcError) as err:
        location(stub, filename_root="r", filename="x" * (21 * 1024 * 1024))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize(
    "url",
    [
        "",
        "s3://bucket/key",
        "flyte://v1/flytesnacks/development/abc/n0/x",
        "flyte://v1/flytesnacks/development/abc/n0/0/d",
        "flyte://v1/flytesnacks/development/abc/n0/d/name",
        "flyte://v1/flytesnacks/development/a.b/n0/o",
    ],
)
def test_get_data_malformed_urls(stub: dataproxy_pb2_grpc.DataProxyServiceStub, url: str) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.GetData(dataproxy_pb2.GetDataRequest(flyte_url=url), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()


def test_get_data_unknown_execution(stub: dataproxy_pb2_grpc.DataProxyServiceStub) -> None:
    """Never UNKNOWN (flytekit would start an auth dance): NOT_FOUND from the node execution lookup."""
    for url in [
        "flyte://v1/flytesnacks/development/nope/n0/o",
        "flyte://v1/flytesnacks/development/nope/n0/d",
    ]:
        with pytest.raises(grpc.RpcError) as err:
            stub.GetData(dataproxy_pb2.GetDataRequest(flyte_url=url), timeout=10)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND, err.value.details()


def test_download_link_requests(stub: dataproxy_pb2_grpc.DataProxyServiceStub) -> None:
    node = identifier_pb2.NodeExecutionIdentifier(
        node_id="n0",
        execution_id=identifier_pb2.WorkflowExecutionIdentifier(
            project="flytesnacks", domain="development", name="nope"
        ),
    )
    cases = [
        (
            dataproxy_pb2.CreateDownloadLinkRequest(artifact_type=dataproxy_pb2.ARTIFACT_TYPE_DECK),
            "INVALID_ARGUMENT",
        ),
        (dataproxy_pb2.CreateDownloadLinkRequest(node_execution_id=node), "INVALID_ARGUMENT"),
        (
            dataproxy_pb2.CreateDownloadLinkRequest(
                artifact_type=dataproxy_pb2.ARTIFACT_TYPE_DECK, node_execution_id=node
            ),
            "NOT_FOUND",
        ),
    ]
    for req, code in cases:
        with pytest.raises(grpc.RpcError) as err:
            stub.CreateDownloadLink(req, timeout=10)
        assert err.value.code().name == code, err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        stub.CreateDownloadLocation(dataproxy_pb2.CreateDownloadLocationRequest(native_url="/x"), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_flyte_url_grammar() -> None:
    u = parse("flyte://v1/org/acme/flytesnacks/development/f1a2/n0-0-n1/2/o/o0")
    assert (u.node.execution_id.org, u.node.execution_id.project, u.node.execution_id.name) == (
        "acme",
        "flytesnacks",
        "f1a2",
    )
    assert (u.node.node_id, u.attempt, u.io, u.name) == ("n0-0-n1", 2, "o", "o0")
    u = parse("flyte://v1/flytesnacks/development/f1a2/n0/i")
    assert (u.node.execution_id.org, u.attempt, u.io, u.name) == ("", None, "i", "")


_FLYTEKIT_UPLOAD = """
import hashlib, json, pathlib, sys
from flytekit.configuration import Config
from flytekit.remote import FlyteRemote
cfg, path = sys.argv[1], pathlib.Path(sys.argv[2])
config = Config.auto(config_file=cfg)
remote = FlyteRemote(config, default_project="flytesnacks", default_domain="development")
md5, native_url = remote.upload_file(path)
resp = remote.client.get_upload_signed_url("flytesnacks", "development", hashlib.md5(b"x").digest(), "x.txt")
print(json.dumps({"md5": md5.hex(), "native_url": native_url, "signed_url": resp.signed_url}))
"""


@pytest.mark.flytekit
def test_flytekit_upload_file_round_trip(backend: Backend, tmp_path: Path) -> None:
    """flytekit's own FlyteRemote.upload_file (CreateUploadLocation + PUT with Content-MD5) against it."""
    src = tmp_path / "payload.txt"
    src.write_bytes(b"uploaded by flytekit\n" * 1000)
    proc = subprocess.run(
        [VENV_PYTHON, "-c", _FLYTEKIT_UPLOAD, str(backend.config), str(src)],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["md5"] == hashlib.md5(src.read_bytes()).hexdigest()
    native = Path(out["native_url"])
    assert native.is_absolute() and native.is_relative_to(backend.state_dir / "uploads" / "flytesnacks")
    assert native.name == "payload.txt"
    assert native.read_bytes() == src.read_bytes()
    assert out["signed_url"].startswith(f"http://127.0.0.1:{backend.http_port}/upload/")


@pytest.mark.timeout(240)
def test_signed_url_survives_a_restart(tmp_path: Path) -> None:
    """CreateUploadLocation, stop the backend, start it again on the same state dir and ports: the PUT to the
    URL handed out before the restart is accepted (the signing key lives in the state dir, owner-only)."""
    state_dir = tmp_path / "state"
    port, http_port = free_port(), free_port()
    body = b"uploaded after a restart\n" * 50
    md5 = hashlib.md5(body).digest()
    first = start_backend(state_dir, port=port, http_port=http_port)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{first.port}") as channel:
            resp = location(
                dataproxy_pb2_grpc.DataProxyServiceStub(channel), filename="late.txt", content_md5=md5
            )
    finally:
        assert first.stop() == 0
    key = state_dir / "upload-signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    key_bytes = key.read_bytes()

    second = start_backend(state_dir, port=port, http_port=http_port)
    try:
        assert key.read_bytes() == key_bytes  # reused, not regenerated
        assert upload(resp.signed_url, body, md5)[0] == 201
        assert Path(resp.native_url).read_bytes() == body
        # the key is not served over HTTP (top-level state files are private)
        status, _ = get(f"{second.http}/files/upload-signing.key")
        assert status in (403, 404)
    finally:
        second.stop()


def test_signing_key_file(tmp_path: Path) -> None:
    """The key is created owner-only, reused, and replaced when others can read it."""
    from flyte_ls.local.state import StateDir

    state = StateDir(tmp_path / "state")
    state.create()
    key = state.signing_key()
    assert len(key) == 32
    assert stat.S_IMODE(state.signing_key_path.stat().st_mode) == 0o600
    assert state.signing_key() == key
    state.signing_key_path.chmod(0o644)  # exposed: URLs signed with it may be forged, so it is replaced
    replaced = state.signing_key()
    assert replaced != key and stat.S_IMODE(state.signing_key_path.stat().st_mode) == 0o600


def get(url: str) -> tuple[int, str]:
    try:
        with NO_PROXY.open(url, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture()
def records_backend(tmp_path: Path) -> Iterator[tuple[Any, dataproxy_pb2_grpc.DataProxyServiceStub, Path]]:
    """An in-process gRPC server with the real AdminServicer and DataProxyService over a fresh store, so a
    test can write node execution records the way the executor does."""
    from concurrent import futures

    from flyte_ls.local.admin import AdminServicer
    from flyte_ls.local.dataproxy import DataProxyServicer, Uploads
    from flyte_ls.local.flyte_urls import AdminData
    from flyte_ls.local.http import file_url
    from flyte_ls.local.state import StateDir
    from flyte_ls.local.store import Store

    state = StateDir(tmp_path / "state")
    state.create()
    store = Store(state.root)
    admin = AdminServicer(store)
    uploads = Uploads(state, "127.0.0.1", 1, max_upload_bytes=1 << 20)
    data = AdminData(
        admin, lambda p: file_url("http://files", state.root, Path(p)) if Path(p).is_file() else None
    )
    server = grpc.server(futures.ThreadPoolExecutor(4))
    dataproxy_pb2_grpc.add_DataProxyServiceServicer_to_server(DataProxyServicer(uploads, data), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield admin, dataproxy_pb2_grpc.DataProxyServiceStub(channel), state.root
    server.stop(None)
    store.close()


def _int_map(**values: int) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(
        literals={
            k: literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(integer=v)))
            for k, v in values.items()
        }
    )


def test_get_data_and_deck_link_from_node_records(records_backend: tuple[Any, Any, Path]) -> None:
    admin, stub, root = records_backend
    ex = identifier_pb2.WorkflowExecutionIdentifier(project="flytesnacks", domain="development", name="f0a1")
    lp = identifier_pb2.Identifier(
        resource_type=identifier_pb2.LAUNCH_PLAN,
        project="flytesnacks",
        domain="development",
        name="wf",
        version="v",
    )
    wf = identifier_pb2.Identifier(
        resource_type=identifier_pb2.WORKFLOW,
        project="flytesnacks",
        domain="development",
        name="wf",
        version="v",
    )
    admin.records.create_execution(ex, execution_pb2.ExecutionSpec(), lp, wf, _int_map(x=1), _int_map(x=1))
    node_dir = root / "executions" / "n0"
    node_dir.mkdir(parents=True)
    (node_dir / "inputs.pb").write_bytes(_int_map(x=3).SerializeToString())
    (node_dir / "outputs.pb").write_bytes(_int_map(o0=6, o1=7).SerializeToString())
    (node_dir / "deck.html").write_text("<html>deck</html>")
    admin.records.start_node(ex, "n0", input_uri=str(node_dir / "inputs.pb"))
    admin.records.finish_node(
        ex,
        "n0",
        core_execution_pb2.NodeExecution.SUCCEEDED,
        output_uri=str(node_dir / "outputs.pb"),
        deck_uri=str(node_dir / "deck.html"),
    )

    def get(url: str) -> dataproxy_pb2.GetDataResponse:
        return stub.GetData(dataproxy_pb2.GetDataRequest(flyte_url=url), timeout=10)

    base = "flyte://v1/flytesnacks/development/f0a1/n0"
    assert get(f"{base}/i").literal_map == _int_map(x=3)
    assert get(f"{base}/o").literal_map == _int_map(o0=6, o1=7)
    assert get(f"{base}/o/o1").literal.scalar.primitive.integer == 7
    with pytest.raises(grpc.RpcError) as err:
        get(f"{base}/o/nope")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "nope" in str(err.value.details())
    deck = get(f"{base}/d")
    assert list(deck.pre_signed_urls.signed_url) == ["http://files/files/executions/n0/deck.html"]
    link = stub.CreateDownloadLink(
        dataproxy_pb2.CreateDownloadLinkRequest(
            artifact_type=dataproxy_pb2.ARTIFACT_TYPE_DECK,
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(node_id="n0", execution_id=ex),
        ),
        timeout=10,
    )
    assert list(link.signed_url) == ["http://files/files/executions/n0/deck.html"]
    assert link.expires_at.seconds > 0
