"""flyte_ls.remote.auth against the real local backend started with ``--auth client-secret``: the flows
(ClientSecret, ExternalCommand, DeviceFlow), discovery, the header key, refresh on UNAUTHENTICATED only,
the token caches, and that no token or secret reaches a log or an error message."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flyteidl.admin import project_pb2

from flyte_ls.remote.auth import (
    Authenticator,
    AuthMetadata,
    DeviceCode,
    FileTokenCache,
    HttpSettings,
    Token,
    TokenCache,
    authenticator_for,
)
from flyte_ls.remote.config import AuthType, Config
from flyte_ls.remote.errors import FlyteAuthenticationException
from flyte_ls.remote.transport import Transport

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import NO_PROXY, Backend, start_backend

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("remote-auth") / "state", "--auth", "client-secret")
    yield b
    b.stop()


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """Tokens live 2 s and travel in ``flyte-authorization``."""
    b = start_backend(
        tmp_path_factory.mktemp("remote-auth-ttl") / "state",
        *("--auth", "client-secret", "--auth-header", "flyte-authorization", "--token-ttl", "2"),
    )
    yield b
    b.stop()


def secret_of(b: Backend) -> str:
    return (b.state_dir / "client-secret").read_text().strip()


class Counting:
    """Wraps a flow and counts its token fetches."""

    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self.fetches = 0

    @property
    def owner(self) -> str:
        return str(self.flow.owner)

    async def fetch(self, meta: AuthMetadata, http: HttpSettings, previous: Token | None) -> Token:
        self.fetches += 1
        token: Token = await self.flow.fetch(meta, http, previous)
        return token


def connect(auth: Authenticator) -> Transport:
    transport = Transport(auth.endpoint, insecure=True, **auth.transport_options())
    auth.attach(transport)
    return transport


async def projects(transport: Transport) -> list[str]:
    answer = await transport.call("ListProjects", project_pb2.ProjectListRequest(), kind="read")
    return [p.id for p in answer.projects]


@pytest.fixture()
async def cache() -> AsyncIterator[TokenCache]:
    yield TokenCache()


async def test_client_secret_from_the_written_config(backend: Backend, cache: TokenCache) -> None:
    config = Config.auto(backend.config)
    assert config.auth_mode == AuthType.CLIENT_SECRET
    auth = authenticator_for(config, cache=cache)
    counting = Counting(auth.flow)
    auth.flow = counting
    async with connect(auth) as transport:
        assert auth.token() is None
        assert await projects(transport) == ["flytesnacks"]
        token = auth.token()
        assert token is not None and token.header == "authorization"
        assert token.expires_at is not None and token.expires_at > time.time() + 3000
        assert await projects(transport) == ["flytesnacks"]
        assert counting.fetches == 1 and auth.token() is token  # no refresh without UNAUTHENTICATED
    # another client of the same endpoint shares the cached token
    other = authenticator_for(config, cache=cache)
    assert other.token() is token


async def test_header_key_from_discovery_and_refresh_on_expiry(
    short_lived: Backend, cache: TokenCache
) -> None:
    auth = authenticator_for(Config.auto(short_lived.config), cache=cache)
    counting = Counting(auth.flow)
    auth.flow = counting
    async with connect(auth) as transport:
        assert await projects(transport) == ["flytesnacks"]
        first = auth.token()
        assert first is not None and first.header == "flyte-authorization"
        assert set(await auth.metadata()) == {"flyte-authorization"}
        await asyncio.sleep(2.2)
        assert first.expired()
        assert await projects(transport) == ["flytesnacks"]  # UNAUTHENTICATED -> refresh -> retried
        assert counting.fetches == 2 and auth.token() is not first


async def test_concurrent_calls_fetch_one_token(backend: Backend, cache: TokenCache) -> None:
    auth = authenticator_for(Config.auto(backend.config), cache=cache)
    counting = Counting(auth.flow)
    auth.flow = counting
    async with connect(auth) as transport:
        results = await asyncio.gather(*(projects(transport) for _ in range(8)))
    assert results == [["flytesnacks"]] * 8
    assert counting.fetches == 1


async def test_wrong_or_missing_secret_says_what_to_do(backend: Backend, cache: TokenCache) -> None:
    config = Config.auto(backend.config)
    auth = authenticator_for(replace(config, client_credentials_secret="not-the-secret"), cache=cache)
    async with connect(auth) as transport:
        with pytest.raises(FlyteAuthenticationException) as wrong:
            await projects(transport)
    assert "invalid_client" in str(wrong.value)
    assert "clientSecretLocation" in str(wrong.value)
    assert "not-the-secret" not in str(wrong.value)
    auth = authenticator_for(replace(config, client_credentials_secret=None), cache=cache)
    async with connect(auth) as transport:
        with pytest.raises(FlyteAuthenticationException, match="no secret for client 'flyte-ls-local'"):
            await projects(transport)


def browser(shown: list[DeviceCode]) -> Any:
    """A sign-in hook that acts as the user's browser: opens the consent page, approves, follows the
    redirect to the client's listener."""

    async def sign_in(code: DeviceCode) -> None:
        shown.append(code)

        def go() -> tuple[str, str, str]:
            with NO_PROXY.open(code.verification_uri_complete, timeout=10) as page:
                consent, csp = page.read().decode(), page.headers["Content-Security-Policy"]
            base, _, query = code.verification_uri_complete.partition("?")
            with NO_PROXY.open(base, data=query.encode(), timeout=10) as done:  # POST, 302, GET callback
                return consent, csp, done.read().decode()

        consent, csp, done = await asyncio.to_thread(go)
        assert "Approve" in consent and "form-action 'self' http://localhost:53593" in csp
        assert "Signed in" in done

    return sign_in


async def test_pkce_signs_in_through_the_browser_hook_then_refreshes(
    short_lived: Backend, cache: TokenCache
) -> None:
    shown: list[DeviceCode] = []
    config = replace(Config.auto(short_lived.config), auth_mode=AuthType.PKCE, client_id=None)
    auth = authenticator_for(config, cache=cache, on_device_code=browser(shown))
    async with connect(auth) as transport:
        assert await projects(transport) == ["flytesnacks"]
        first = auth.token()
        assert first is not None and first.refresh_token and first.owner == "Pkce:"
        assert len(shown) == 1 and shown[0].user_code == ""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(shown[0].verification_uri).query)
        assert query["code_challenge_method"] == ["S256"] and query["redirect_uri"] == [
            "http://localhost:53593/callback"
        ]
        await asyncio.sleep(2.2)  # expired: the refresh token buys a new one, no second sign-in
        assert await projects(transport) == ["flytesnacks"]
        assert len(shown) == 1 and auth.token() is not first


def test_scope_and_audience_of_a_token_request() -> None:
    """Every flow asks for the configured scopes and audience, else the server's; no audience key when
    neither names one (the device, PKCE and client-credentials requests share this)."""
    from flyte_ls.remote.auth.flows import requested

    server = AuthMetadata(scopes=("all", "offline"), audience="https://flyte.example.com")
    assert requested((), None, server) == {"scope": "all offline", "audience": "https://flyte.example.com"}
    assert requested(["mine"], "aud", server) == {"scope": "mine", "audience": "aud"}
    assert requested((), None, AuthMetadata()) == {"scope": ""}


async def test_unsupported_flow_says_which_auth_type_to_use(backend: Backend, cache: TokenCache) -> None:
    auth = Authenticator(Config.auto(backend.config).endpoint, None, cache=cache, unsupported="authType X")
    async with connect(auth) as transport:
        with pytest.raises(FlyteAuthenticationException, match=r"authType X is not supported.*ClientSecret"):
            await projects(transport)


def token_command(b: Backend, tmp_path: Path) -> list[str]:
    """A command that prints a token it gets from the backend (as a user's SSO helper would)."""
    script = tmp_path / "get_token.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, urllib.parse, urllib.request
            secret = open({str(b.state_dir / "client-secret")!r}).read().strip()
            form = urllib.parse.urlencode({{"grant_type": "client_credentials", "client_id": "flyte-ls-local",
                                            "client_secret": secret}})
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
            with opener.open("{b.http}/oauth2/token", data=form.encode(), timeout=10) as resp:
                print(json.load(resp)["access_token"])
            """
        )
    )
    return [sys.executable, str(script)]


async def test_external_command(backend: Backend, tmp_path: Path, cache: TokenCache) -> None:
    config = replace(
        Config.auto(backend.config),
        auth_mode=AuthType.EXTERNAL_COMMAND,
        command=tuple(token_command(backend, tmp_path)),
    )
    auth = authenticator_for(config, cache=cache)
    async with connect(auth) as transport:
        assert await projects(transport) == ["flytesnacks"]
    token = auth.token()
    assert token is not None and token.owner.startswith("ExternalCommand:")


async def test_external_command_failure_is_clear_and_redacted(backend: Backend, cache: TokenCache) -> None:
    failing = (sys.executable, "-c", "import sys; print('token=s3cr3t-value', file=sys.stderr); sys.exit(3)")
    config = replace(Config.auto(backend.config), auth_mode=AuthType.EXTERNAL_COMMAND, command=failing)
    async with connect(authenticator_for(config, cache=cache)) as transport:
        with pytest.raises(FlyteAuthenticationException) as err:
            await projects(transport)
    assert "failed (exit 3)" in str(err.value)
    assert "s3cr3t-value" not in str(err.value)
    config = replace(config, command=("/nonexistent/token-helper",))
    async with connect(authenticator_for(config, cache=cache)) as transport:
        with pytest.raises(
            FlyteAuthenticationException, match=r"cannot run the auth command.*admin\.command"
        ):
            await projects(transport)


async def test_device_flow_shows_the_code_and_waits_for_approval(backend: Backend, cache: TokenCache) -> None:
    shown: list[DeviceCode] = []

    async def approve(code: DeviceCode) -> None:
        shown.append(code)
        form = urllib.parse.urlencode({"user_code": code.user_code}).encode()

        def post() -> int:
            with NO_PROXY.open(code.verification_uri, data=form, timeout=10) as resp:
                return int(resp.status)

        await asyncio.sleep(0.5)  # the first poll finds it pending
        assert await asyncio.to_thread(post) == 200

    config = replace(Config.auto(backend.config), auth_mode=AuthType.DEVICE_FLOW, client_id=None)
    auth = authenticator_for(config, cache=cache, on_device_code=approve)
    async with connect(auth) as transport:
        assert await projects(transport) == ["flytesnacks"]
    assert len(shown) == 1
    assert shown[0].verification_uri == f"{backend.http}/oauth2/device"
    assert shown[0].user_code in shown[0].verification_uri_complete


async def test_file_cache_is_private_and_shared_between_processes(backend: Backend, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    config = Config.auto(backend.config)
    auth = authenticator_for(config, cache=FileTokenCache(path))
    async with connect(auth) as transport:
        assert await projects(transport) == ["flytesnacks"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # a new cache (as in another process) reads the token: no token request
    again = authenticator_for(config, cache=FileTokenCache(path))
    counting = Counting(again.flow)
    again.flow = counting
    async with connect(again) as transport:
        assert await projects(transport) == ["flytesnacks"]
    assert counting.fetches == 0
    # a cache file others can read is not trusted
    os.chmod(path, 0o644)
    assert authenticator_for(config, cache=FileTokenCache(path)).token() is None


async def test_no_token_or_secret_in_logs_or_errors(
    backend: Backend, cache: TokenCache, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = Config.auto(backend.config)
    auth = authenticator_for(config, cache=cache)
    async with connect(auth) as transport:
        await projects(transport)
    token = auth.token()
    assert token is not None
    messages = [repr(token), repr(auth), repr(config)]
    for bad in (replace(config, client_credentials_secret="wrong-" + secret_of(backend)[:8]),):
        async with connect(authenticator_for(bad, cache=TokenCache())) as transport:
            with pytest.raises(FlyteAuthenticationException) as err:
                await projects(transport)
        messages.append(str(err.value))
    # an expired/forged token refused by the server
    forged = TokenCache()
    forged.put(config.endpoint, replace(token, access_token="forged-" + token.access_token))
    bare = Authenticator(config.endpoint, None, cache=forged, unsupported="authType Pkce")
    async with connect(bare) as transport:
        with pytest.raises(FlyteAuthenticationException) as refused:
            await projects(transport)
    messages.append(str(refused.value))
    everything = "\n".join([caplog.text, *messages, backend.stderr(), backend.stdout()])
    assert "GetOAuth2Metadata" in caplog.text or "new credentials" in caplog.text
    assert token.access_token not in everything
    assert secret_of(backend) not in everything
    assert secret_of(backend)[:8] not in everything


async def test_flyte_remote_authenticates_with_the_written_config(backend: Backend) -> None:
    from flyte_ls.remote.remote import AsyncFlyteRemote, FlyteRemote

    async with AsyncFlyteRemote(Config.auto(backend.config)) as remote:
        assert [p.id for p in await remote.list_projects()] == ["flytesnacks"]
    sync = FlyteRemote(Config.auto(backend.config))
    try:
        assert [p.id for p in await asyncio.to_thread(sync.list_projects)] == ["flytesnacks"]
    finally:
        await asyncio.to_thread(sync.close)


async def test_proxy_command_token_goes_in_proxy_authorization(backend: Backend, cache: TokenCache) -> None:
    config = replace(
        Config.auto(backend.config), proxy_command=(sys.executable, "-c", "print('proxy-token-1')")
    )
    auth = authenticator_for(config, cache=cache)
    async with connect(auth) as transport:
        assert await auth.metadata() == {"proxy-authorization": "Bearer proxy-token-1"}
        assert await projects(transport) == ["flytesnacks"]
        assert await auth.metadata() == {
            "proxy-authorization": "Bearer proxy-token-1",
            "authorization": f"Bearer {auth.token().access_token}",  # type: ignore[union-attr]
        }


async def test_a_remote_keeps_tokens_in_a_file_cache_set_on_it(backend: Backend, tmp_path: Path) -> None:
    """``token_cache`` set on the sync facade reaches the remote underneath; a second remote reading that file
    needs no token request — shown by giving it a wrong secret, which would be refused if one were sent."""
    from flyte_ls.remote.remote import FlyteRemote

    path = tmp_path / "tokens.json"
    first = FlyteRemote(Config.auto(backend.config))
    first.token_cache = FileTokenCache(path)
    first.default_project = "flytesnacks"
    assert first.async_remote.token_cache is first.token_cache
    assert first.async_remote.default_project == "flytesnacks"
    try:
        assert [p.id for p in await asyncio.to_thread(first.list_projects)] == ["flytesnacks"]
    finally:
        await asyncio.to_thread(first.close)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    wrong = replace(Config.auto(backend.config), client_credentials_secret="wrong-secret")
    second = FlyteRemote(wrong)
    second.token_cache = FileTokenCache(path)
    try:
        assert [p.id for p in await asyncio.to_thread(second.list_projects)] == ["flytesnacks"]
    finally:
        await asyncio.to_thread(second.close)
    third = FlyteRemote(wrong)  # the memory cache of this process holds the token too: use a fresh one
    third.token_cache = TokenCache()
    try:
        with pytest.raises(FlyteAuthenticationException):
            await asyncio.to_thread(third.list_projects)
    finally:
        await asyncio.to_thread(third.close)
