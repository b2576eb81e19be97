"""OAuth2 authorization code with PKCE (S256): the user signs in in a browser, which the identity provider
redirects to a one-shot HTTP listener on the server's ``redirect_uri`` (typically
``http://localhost:53593/callback``); the code and the verifier then buy a token. A refresh token, when the
server gives one, is tried first next time. Nothing is stored in keyring (use a
:class:`~flyte_ls.remote.auth.cache.FileTokenCache` to keep tokens across processes)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from flyte_ls.remote.auth.cache import Token
from flyte_ls.remote.auth.flows import (
    DeviceCode,
    DeviceCodeHook,
    SignIn,
    log_device_code,
    requested,
    show,
    token_from,
)
from flyte_ls.remote.auth.oauth import AuthMetadata, HttpSettings, OAuthError, post_form
from flyte_ls.remote.errors import FlyteAuthenticationException, FlyteTimeout

log = logging.getLogger(__name__)

SIGN_IN_TIMEOUT_S = 300.0
_DONE_PAGE = (
    b"<!doctype html><html><head><meta charset='utf-8'><title>Flyte sign-in</title></head>"
    b"<body><p>Signed in: you can close this page.</p></body></html>\n"
)


def code_challenge(verifier: str) -> str:
    """S256: base64url(sha256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class Pkce(SignIn):
    """Browser sign-in. ``on_sign_in`` shows the user the URL to open (``DeviceCode.user_code`` is empty)."""

    on_sign_in: DeviceCodeHook = log_device_code
    timeout: float = SIGN_IN_TIMEOUT_S

    async def fetch(self, meta: AuthMetadata, http: HttpSettings, previous: Token | None) -> Token:
        client_id = self.client(meta)
        if not (meta.authorization_endpoint and meta.token_endpoint and meta.redirect_uri):
            raise FlyteAuthenticationException(
                "the server does not offer browser sign-in (no authorization endpoint or redirect URI): use "
                "authType ClientSecret, DeviceFlow or ExternalCommand in your Flyte config"
            )
        token = await self.refreshed(previous, meta, http)
        if token is not None:
            return token
        verifier = secrets.token_urlsafe(64)
        state = secrets.token_urlsafe(24)
        query = {
            "client_id": client_id,
            "response_type": "code",
            **requested(self.scopes, self.audience, meta),
            "redirect_uri": meta.redirect_uri,
            "state": state,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        url = f"{meta.authorization_endpoint}?{urlencode(query)}"
        params = await self._sign_in(meta.redirect_uri, url)
        if params.get("state") != state:
            raise FlyteAuthenticationException(
                "the sign-in answer does not match this sign-in (state): try again"
            )
        if "error" in params or not params.get("code"):
            raise FlyteAuthenticationException(
                f"sign-in failed: {params.get('error', 'no code')} "
                f"{params.get('error_description', '')}".strip()
            )
        form = {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": params["code"],
            "code_verifier": verifier,
            "redirect_uri": meta.redirect_uri,
        }
        try:
            answer = await post_form(meta.token_endpoint, form, http)
        except OAuthError as exc:
            raise FlyteAuthenticationException(f"sign-in failed: {exc.message}") from None
        return token_from(answer, meta, self.owner, meta.token_endpoint)

    async def _sign_in(self, redirect_uri: str, url: str) -> dict[str, str]:
        """Listen on ``redirect_uri``, show ``url``, and return the query of the browser's redirect."""
        target = urlsplit(redirect_uri)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[dict[str, str]] = loop.create_future()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                _, path, _ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
                where = urlsplit(path)
                found = where.path == (target.path or "/")
                if found and not answer.done():
                    answer.set_result({k: v[0] for k, v in parse_qs(where.query).items()})
                body = _DONE_PAGE if found else b"not found\n"
                status = b"200 OK" if found else b"404 Not Found"
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + body
                )
                await writer.drain()
            except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                pass
            finally:
                writer.close()

        host = target.hostname or "localhost"
        try:
            server = await asyncio.start_server(serve, host, target.port or 80)
        except OSError as exc:
            raise FlyteAuthenticationException(
                f"cannot listen on {redirect_uri} for the sign-in redirect ({exc.strerror}): another sign-in "
                "may be running; finish or stop it and try again"
            ) from None
        try:
            await show(self.on_sign_in, DeviceCode(url, "", url, self.timeout))
            try:
                return await asyncio.wait_for(answer, self.timeout)
            except asyncio.TimeoutError:
                raise FlyteTimeout(f"nobody signed in within {self.timeout:.0f} s: try again") from None
        finally:
            server.close()
            await server.wait_closed()
