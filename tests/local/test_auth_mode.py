"""``flyte-ls local start --auth client-secret``: the real backend with its token endpoint, driven by raw
gRPC/HTTP, by flytekit's own FlyteRemote and by ``pyflyte`` with the written config."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from flyteidl.admin import project_pb2
from flyteidl.service import admin_pb2_grpc, auth_pb2, auth_pb2_grpc
from local_backend import NO_PROXY, VENV_BIN, VENV_PYTHON, Backend, start_backend

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("auth") / "state", "--auth", "client-secret")
    yield b
    b.stop()


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """Tokens live 2 s and travel in ``flyte-authorization``."""
    b = start_backend(
        tmp_path_factory.mktemp("auth-ttl") / "state",
        "--auth",
        "client-secret",
        "--auth-header",
        "flyte-authorization",
        "--token-ttl",
        "2",
    )
    yield b
    b.stop()


def secret_of(b: Backend) -> str:
    return (b.state_dir / "client-secret").read_text().strip()


def post_token(
    b: Backend, form: dict[str, str], basic: tuple[str, str] | None = None, base: str | None = None
) -> tuple[int, dict]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic is not None:
        cid, secret = basic
        raw = f"{cid}:{urllib.parse.quote_plus(secret)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    req = urllib.request.Request(
        (base or b.http) + "/oauth2/token",
        data=urllib.parse.urlencode(form).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with NO_PROXY.open(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def token_for(b: Backend) -> str:
    status, body = post_token(b, {"grant_type": "client_credentials"}, ("flyte-ls-local", secret_of(b)))
    assert status == 200, body
    return str(body["access_token"])


def list_projects(b: Backend, metadata: tuple[tuple[str, str], ...] = ()) -> project_pb2.Projects:
    with grpc.insecure_channel(f"127.0.0.1:{b.port}") as ch:
        stub = admin_pb2_grpc.AdminServiceStub(ch)
        return stub.ListProjects(project_pb2.ProjectListRequest(), metadata=metadata, timeout=10)


@pytest.mark.timeout(60)
def test_config_names_client_and_secret_file_0600(backend: Backend) -> None:
    config = backend.config.read_text()
    secret_file = backend.state_dir / "client-secret"
    assert "  authType: ClientSecret\n" in config
    assert '  clientId: "flyte-ls-local"\n' in config
    assert f'  clientSecretLocation: "{secret_file}"\n' in config
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(secret_of(backend)) >= 32
    assert secret_of(backend) not in config
    assert "  Auth:                   client-secret (" in backend.stdout()
    assert secret_of(backend) not in backend.stdout() + backend.stderr()


@pytest.mark.timeout(60)
def test_metadata_service_answers_without_a_token(backend: Backend) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as ch:
        stub = auth_pb2_grpc.AuthMetadataServiceStub(ch)
        meta = stub.GetOAuth2Metadata(auth_pb2.OAuth2MetadataRequest(), timeout=10)
        client = stub.GetPublicClientConfig(auth_pb2.PublicClientAuthConfigRequest(), timeout=10)
    assert meta.token_endpoint == f"{backend.http}/oauth2/token"
    assert "client_credentials" in meta.grant_types_supported
    assert client.authorization_metadata_key == "authorization"


@pytest.mark.timeout(60)
def test_admin_needs_a_valid_bearer_token(backend: Backend) -> None:
    with pytest.raises(grpc.RpcError) as missing:
        list_projects(backend)
    assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "/oauth2/token" in missing.value.details()
    with pytest.raises(grpc.RpcError) as forged:
        list_projects(backend, (("authorization", "Bearer not-a-token"),))
    assert forged.value.code() == grpc.StatusCode.UNAUTHENTICATED
    token = token_for(backend)
    assert token not in (forged.value.details() or "")
    projects = list_projects(backend, (("authorization", f"Bearer {token}"),))
    assert [p.id for p in projects.projects] == ["flytesnacks"]
    # the token endpoint is on the shared gRPC port too (the mux serves HTTP there); "bearer" in any case
    basic = ("flyte-ls-local", secret_of(backend))
    status, body = post_token(
        backend, {"grant_type": "client_credentials"}, basic, f"http://127.0.0.1:{backend.port}"
    )
    assert status == 200
    assert list_projects(backend, (("authorization", f"bearer {body['access_token']}"),)).projects


@pytest.mark.timeout(60)
def test_token_endpoint_refuses_wrong_secret_and_grant(backend: Backend) -> None:
    status, body = post_token(backend, {"grant_type": "client_credentials"}, ("flyte-ls-local", "wrong"))
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = post_token(
        backend,
        {
            "grant_type": "client_credentials",
            "client_id": "flyte-ls-local",
            "client_secret": secret_of(backend),
        },
    )
    assert status == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 3600
    status, body = post_token(backend, {"grant_type": "password"}, ("flyte-ls-local", secret_of(backend)))
    assert (status, body["error"]) == (400, "unsupported_grant_type")


@pytest.mark.timeout(60)
def test_custom_header_and_expiry(short_lived: Backend) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{short_lived.port}") as ch:
        client = auth_pb2_grpc.AuthMetadataServiceStub(ch).GetPublicClientConfig(
            auth_pb2.PublicClientAuthConfigRequest(), timeout=10
        )
    assert client.authorization_metadata_key == "flyte-authorization"
    token = token_for(short_lived)
    with pytest.raises(grpc.RpcError) as wrong_key:
        list_projects(short_lived, (("authorization", f"Bearer {token}"),))
    assert wrong_key.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert list_projects(short_lived, (("flyte-authorization", f"Bearer {token}"),)).projects
    time.sleep(2.2)
    with pytest.raises(grpc.RpcError) as expired:
        list_projects(short_lived, (("flyte-authorization", f"Bearer {token}"),))
    assert expired.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "expired" in expired.value.details()


@pytest.mark.timeout(60)
def test_device_flow_endpoints(backend: Backend) -> None:
    def post(path: str, form: dict[str, str]) -> tuple[int, bytes]:
        req = urllib.request.Request(
            backend.http + path, data=urllib.parse.urlencode(form).encode(), method="POST"
        )
        try:
            with NO_PROXY.open(req, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    status, raw = post("/oauth2/device/authorize", {"client_id": "flyte-ls-local-public", "scope": "all"})
    assert status == 200
    device = json.loads(raw)
    grant = {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": device["device_code"],
    }
    assert post_token(backend, grant) == (400, {"error": "authorization_pending"})
    with NO_PROXY.open(device["verification_uri_complete"], timeout=10) as page:
        assert device["user_code"] in page.read().decode()
    assert post("/oauth2/device", {"user_code": device["user_code"]})[0] == 200
    status, body = post_token(backend, grant)
    assert status == 200
    assert list_projects(backend, (("authorization", f"Bearer {body['access_token']}"),)).projects
    assert post_token(backend, grant)[0] == 400  # a device code is used once


FLYTEKIT_LIST = textwrap.dedent(
    """
    import sys
    from flytekit.configuration import Config
    from flytekit.remote import FlyteRemote
    remote = FlyteRemote(Config.auto(sys.argv[1]))
    print([p.id for p in remote.client.list_projects_paginated()[0]])
    """
)


def run_flytekit(config: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VENV_PYTHON, "-c", FLYTEKIT_LIST, str(config)],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost", **(env or {})},
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.timeout(120)
def test_flytekit_remote_uses_the_written_config(backend: Backend) -> None:
    done = run_flytekit(backend.config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['flytesnacks']"


@pytest.mark.timeout(120)
def test_flytekit_remote_fails_clearly_with_a_wrong_secret(backend: Backend, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-secret"
    wrong.write_text("wrong-secret\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        backend.config.read_text().replace(str(backend.state_dir / "client-secret"), str(wrong))
    )
    done = run_flytekit(config)
    assert done.returncode != 0
    assert "401" in done.stderr and "invalid_client" in done.stderr
    assert secret_of(backend) not in done.stderr + backend.stderr()


@pytest.mark.timeout(170)
def test_pyflyte_run_remote_with_the_written_config(backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "wf.py").write_text(
        textwrap.dedent(
            """
            from flytekit import task, workflow

            @task
            def double(x: int) -> int:
                return 2 * x

            @workflow
            def wf(x: int = 3) -> int:
                return double(x=x)
            """
        )
    )
    done = subprocess.run(
        [str(VENV_BIN / "pyflyte"), "--config", str(backend.config), "run", "--remote", "wf.py", "wf"],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=tmp_path,
        env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "/console/projects/flytesnacks/domains/development/executions/" in done.stdout


@pytest.mark.timeout(60)
def test_pkce_code_needs_the_matching_verifier(backend: Backend) -> None:
    import hashlib

    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "client_id": "flyte-ls-local-public",
        "response_type": "code",
        "redirect_uri": "http://localhost:53593/callback",
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(
            backend.http + "/oauth2/authorize", data=urllib.parse.urlencode(query).encode(), timeout=10
        )
    assert redirect.value.code == 302
    location = urllib.parse.urlsplit(redirect.value.headers["Location"])
    params = urllib.parse.parse_qs(location.query)
    assert location.netloc == "localhost:53593" and params["state"] == ["s1"]
    grant = {
        "grant_type": "authorization_code",
        "client_id": "flyte-ls-local-public",
        "code": params["code"][0],
        "redirect_uri": "http://localhost:53593/callback",
    }
    assert post_token(backend, {**grant, "code_verifier": "w" * 64})[1]["error"] == "invalid_grant"
    # the failed attempt used the code up
    assert post_token(backend, {**grant, "code_verifier": verifier})[1]["error"] == "invalid_grant"
    bad = dict(query, code_challenge_method="plain")
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(backend.http + "/oauth2/authorize?" + urllib.parse.urlencode(bad), timeout=10)
    assert refused.value.code == 400
    status, body = post_token(backend, {"grant_type": "refresh_token", "refresh_token": "made-up"})
    assert (status, body["error"]) == (400, "invalid_grant")


@pytest.mark.timeout(120)
def test_flytekit_device_flow_signs_in(backend: Backend, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"admin:\n  endpoint: dns:///127.0.0.1:{backend.port}\n  insecure: true\n  authType: DeviceFlow\n"
    )
    env = {
        **os.environ,
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",  # never the user's keyring
    }
    proc = subprocess.Popen(
        [VENV_PYTHON, "-u", "-c", FLYTEKIT_LIST, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "navigate in a browser to the following URL:" in line:
                url = line.split("URL:", 1)[1].strip()
                break
        else:
            raise AssertionError(
                f"flytekit showed no sign-in URL: {proc.stderr.read() if proc.stderr else ''}"
            )
        page, _, query = url.partition("?")
        assert page == f"{backend.http}/oauth2/device"
        with NO_PROXY.open(page, data=query.encode(), timeout=10) as approved:
            assert approved.status == 200
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "['flytesnacks']" in out
