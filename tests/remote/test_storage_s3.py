"""`download` from s3:// through fsspec with the storage settings of the Config, against an S3 server.

The object store is moto's ThreadedMotoServer on 127.0.0.1 (a free port): the one stand-in these tests allow
(no real object store is reachable here); everything else is real. The local backend keeps its own raw output
data on local paths (its raw output prefix is not configurable), so the s3:// outputs are written by flytekit
itself: the tasks of tests/remote/data/s3flows return FlyteFile/FlyteDirectory with an s3:// remote path, and
the execution's envs give them the FLYTE_AWS_* credentials. The client then reads them back with the
credentials from `storage.connection.*` in a config file, or from the FLYTE_AWS_* variables.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import literals_pb2, types_pb2

from flyte_ls.remote.config import Config, StorageConfig
from flyte_ls.remote.remote import AsyncFlyteRemote, FlyteRemote

from .registered import DOMAIN, PROJECT, Backend, finished_execution, registered_backend, remote_for

pytestmark = pytest.mark.flytekit
WF = core_execution_pb2.WorkflowExecution
BUCKET = "flyte-ls-s3"
POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'


@dataclass
class S3:
    endpoint: str
    key: str
    secret: str

    @property
    def env(self) -> dict[str, str]:
        """flytekit's variables for the same store (what a task reads)."""
        return {
            "FLYTE_AWS_ENDPOINT": self.endpoint,
            "FLYTE_AWS_ACCESS_KEY_ID": self.key,
            "FLYTE_AWS_SECRET_ACCESS_KEY": self.secret,
        }

    def fs(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(
            key=self.key,
            secret=self.secret,
            client_kwargs={"endpoint_url": self.endpoint},
            skip_instance_cache=True,
        )


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    """The S3 server with IAM authentication on: only the access key made here (signed with its secret) may
    read or write, so a download that works proves the configured credentials reached fsspec."""
    import boto3
    from moto.core.authorization import enable_iam_authentication
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        iam = boto3.client(
            "iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )  # fmt: skip
        iam.create_user(UserName="flyte")
        iam.put_user_policy(UserName="flyte", PolicyName="s3", PolicyDocument=POLICY)
        made = iam.create_access_key(UserName="flyte")["AccessKey"]
        store = S3(endpoint, made["AccessKeyId"], made["SecretAccessKey"])
        with enable_iam_authentication():
            store.fs().mkdir(BUCKET)  # no region: moto refuses a location constraint for us-east-1
            yield store
    finally:
        server.stop()


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with registered_backend(tmp_path_factory, "s3flows") as b:
        yield b


@pytest.fixture(scope="module")
def config_file(backend: Backend, s3: S3, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The backend's config.yaml plus flytectl's storage.connection block for the S3 server."""
    data = yaml.safe_load(backend.config.read_text())
    data["storage"] = {
        "type": "minio",
        "connection": {
            "endpoint": s3.endpoint,
            "access-key": s3.key,
            "secret-key": s3.secret,
            "addressing-style": "path",
        },
    }
    path = tmp_path_factory.mktemp("cfg") / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
async def remote(config_file: Path) -> AsyncIterator[AsyncFlyteRemote]:
    async with remote_for(config_file) as r:
        yield r


@pytest.fixture(scope="module")
def s3_execution(config_file: Path, s3: S3) -> str:
    """One finished run of s3_wf: its outputs were uploaded to the S3 server by flytekit in the tasks."""
    return finished_execution(config_file, "s3flows.flows.s3_wf", {"dest": f"s3://{BUCKET}/run"}, envs=s3.env)


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.timeout(300)
async def test_download_outputs_of_an_execution_from_s3(
    remote: AsyncFlyteRemote, s3: S3, s3_execution: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    outputs = await remote.sync_execution(s3_execution)
    assert outputs.outputs is not None
    assert outputs.outputs["o0"] == f"s3://{BUCKET}/run/note.txt"  # the literals point at the S3 server
    saved = await remote.download(s3_execution, tmp_path / "out")
    out = (tmp_path / "out").resolve()
    assert saved == {"o0": out / "o0", "o1": out / "o1", "o2": out / "o2"}
    assert (out / "o0").read_text() == "hello s3"
    assert _tree(out / "o1") == {
        "f0.txt": "file 0",
        "f3.txt": "file 3",
        "sub/f1.txt": "file 1",
        "sub/deeper/f2.txt": "file 2",
    }
    assert _tree(out / "o2") == {str(i): f"part {i}" for i in range(4)}
    assert s3.secret not in caplog.text


@pytest.mark.timeout(120)
async def test_credentials_from_flyte_aws_variables(
    backend: Backend, s3: S3, s3_execution: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same download with the storage settings from FLYTE_AWS_* (no storage block in the file), through
    the synchronous FlyteRemote."""
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    config = Config.auto(str(backend.config))
    assert config.storage == StorageConfig(
        endpoint=s3.endpoint, access_key_id=s3.key, secret_access_key=s3.secret
    )
    assert s3.secret not in repr(config)
    with FlyteRemote(config, default_project=PROJECT, default_domain=DOMAIN) as r:
        saved = r.download(s3_execution, tmp_path, recursive=False)
    assert set(saved) == {"o0", "o1"} and saved["o0"].read_text() == "hello s3"
    assert (saved["o1"] / "sub" / "deeper" / "f2.txt").read_text() == "file 2"


def _blob(uri: str, multipart: bool) -> literals_pb2.Literal:
    literal = literals_pb2.Literal()
    literal.scalar.blob.uri = uri
    literal.scalar.blob.metadata.type.dimensionality = (
        types_pb2.BlobType.MULTIPART if multipart else types_pb2.BlobType.SINGLE
    )
    return literal


@pytest.mark.timeout(60)
async def test_datasets_maps_and_offloaded_literals(remote: AsyncFlyteRemote, s3: S3, tmp_path: Path) -> None:
    """Objects put by the test: a structured dataset (a folder of parquet parts), a map of files, and an
    offloaded literal (a serialized Literal in the store, as flytekit writes one for a large output)."""
    fs = s3.fs()
    fs.pipe(
        {
            f"{BUCKET}/sd/part-0.parquet": b"p0",
            f"{BUCKET}/sd/part-1.parquet": b"p1",
            f"{BUCKET}/single.parquet": b"one",
            f"{BUCKET}/m/a.txt": b"A",
        }
    )
    inner = literals_pb2.Literal(
        collection=literals_pb2.LiteralCollection(
            literals=[_blob(f"s3://{BUCKET}/m/a.txt", False), _blob(f"s3://{BUCKET}/sd", True)]
        )
    )
    fs.pipe({f"{BUCKET}/meta/o3_offloaded_metadata.pb": inner.SerializeToString()})
    dataset = literals_pb2.Literal()
    dataset.scalar.structured_dataset.uri = f"s3://{BUCKET}/sd"
    single = literals_pb2.Literal()
    single.scalar.structured_dataset.uri = f"s3://{BUCKET}/single.parquet"
    offloaded = literals_pb2.Literal(
        offloaded_metadata=literals_pb2.LiteralOffloadedMetadata(
            uri=f"s3://{BUCKET}/meta/o3_offloaded_metadata.pb", size_bytes=inner.ByteSize()
        )
    )
    files = literals_pb2.Literal(
        map=literals_pb2.LiteralMap(literals={"a": _blob(f"s3://{BUCKET}/m/a.txt", False)})
    )
    data = literals_pb2.LiteralMap(literals={"sd": dataset, "one": single, "m": files, "big": offloaded})
    saved = await remote.download(data, tmp_path)
    root = tmp_path.resolve()
    assert _tree(root / "sd") == {"part-0.parquet": "p0", "part-1.parquet": "p1"}
    assert (root / "one").read_text() == "one"
    assert _tree(root / "m") == {"a": "A"}
    # the offloaded literal is read from the store and saved as what it holds
    assert saved["big"] == root / "big"
    assert _tree(root / "big") == {"0": "A", "1/part-0.parquet": "p0", "1/part-1.parquet": "p1"}


@pytest.mark.timeout(60)
async def test_missing_object_and_wrong_secret_are_clear_errors(
    remote: AsyncFlyteRemote, s3: S3, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    missing = literals_pb2.LiteralMap(literals={"gone": _blob(f"s3://{BUCKET}/no/such.txt", False)})
    with pytest.raises(FileNotFoundError, match=f"s3://{BUCKET}/no/such.txt does not exist in the store"):
        await remote.download(missing, tmp_path)
    s3.fs().pipe({f"{BUCKET}/there.txt": b"x"})
    there = literals_pb2.LiteralMap(literals={"x": _blob(f"s3://{BUCKET}/there.txt", False)})
    wrong = dataclasses.replace(
        remote.config, storage=dataclasses.replace(remote.config.storage, secret_access_key="not-the-secret")
    )
    async with AsyncFlyteRemote(wrong, default_project=PROJECT, default_domain=DOMAIN) as bad:
        with pytest.raises(PermissionError, match="check the storage credentials") as info:
            await bad.download(there, tmp_path / "bad")
    assert "not-the-secret" not in str(info.value) and s3.secret not in str(info.value)
    assert s3.secret not in caplog.text and "not-the-secret" not in caplog.text
    assert (await remote.download(there, tmp_path / "good"))["x"].read_text() == "x"


@pytest.mark.timeout(60)
def test_large_data_admin_did_not_inline(remote: AsyncFlyteRemote, s3: S3) -> None:
    """Admin leaves `full_outputs` empty when the data is too large to inline and gives only the deprecated
    UrlBlob: the LiteralMap is read from its URL, a store URI (with the configured storage) or a signed
    URL (read without credentials; moto's IAM check does not handle query-string signatures: off for it)."""
    from moto.core.authorization import disable_iam_authentication

    from flyte_ls.remote.remote_data import _literal_map_at, _storage_options

    data = literals_pb2.LiteralMap(literals={"big": _blob(f"s3://{BUCKET}/m/a.txt", False)})
    s3.fs().pipe({f"{BUCKET}/big/outputs.pb": data.SerializeToString()})
    storage = _storage_options(remote.config)
    assert _literal_map_at(f"s3://{BUCKET}/big/outputs.pb", storage) == data
    signed = s3.fs().sign(f"{BUCKET}/big/outputs.pb", expiration=300)
    missing = s3.fs().sign(f"{BUCKET}/big/none.pb", expiration=300)
    assert signed.startswith(s3.endpoint) and "Signature=" in signed
    with disable_iam_authentication():
        assert _literal_map_at(signed, {}) == data
        with pytest.raises(FileNotFoundError, match=f"{BUCKET}/big/none.pb does not exist") as info:
            _literal_map_at(missing, {})
    assert "Signature" not in str(info.value)
