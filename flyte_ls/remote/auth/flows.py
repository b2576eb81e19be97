"""The ways to get an access token: client credentials (:class:`ClientSecret`), a command that prints one
(:class:`ExternalCommand`) and the OAuth2 device flow (:class:`DeviceFlow`). Each turns the server's
:class:`~flyte_ls.remote.auth.oauth.AuthMetadata` into a :class:`~flyte_ls.remote.auth.cache.Token`."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from flyte_ls.remote.auth.cache import Token
from flyte_ls.remote.auth.oauth import (
    DEVICE_CODE_GRANT,
    AuthMetadata,
    HttpSettings,
    OAuthError,
    basic_authorization,
    post_form,
)
from flyte_ls.remote.errors import FlyteAuthenticationException, FlyteTimeout, redact

log = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 120.0


class Flow(Protocol):
    @property
    def owner(self) -> str:
        """Who the tokens belong to (flow and client): tokens cached by another owner are not used."""

    async def fetch(self, meta: AuthMetadata, http: HttpSettings, previous: Token | None) -> Token: ...


def token_from(answer: dict[str, Any], meta: AuthMetadata, owner: str, where: str) -> Token:
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise FlyteAuthenticationException(f"{where} answered without an access_token")
    expires_in = answer.get("expires_in")
    expires_at = time.time() + float(expires_in) if isinstance(expires_in, (int, float)) else None
    refresh = answer.get("refresh_token")
    return Token(access, meta.header, owner, expires_at, refresh if isinstance(refresh, str) else None)


def requested(scopes: Sequence[str], audience: str | None, meta: AuthMetadata) -> dict[str, str]:
    """The ``scope`` of a token request (the configured scopes, else the server's) and its ``audience`` (the
    configured one, else the server's; left out when neither names one)."""
    fields = {"scope": " ".join(scopes or meta.scopes)}
    if audience or meta.audience:
        fields["audience"] = audience or meta.audience
    return fields


@dataclass
class ClientSecret:
    """OAuth2 client credentials: ``client_id`` and its ``secret`` (HTTP Basic) for a token."""

    client_id: str | None
    secret: str | None
    scopes: Sequence[str] = ()
    audience: str | None = None

    def __repr__(self) -> str:
        return f"ClientSecret(client_id={self.client_id!r})"

    @property
    def owner(self) -> str:
        return f"ClientSecret:{self.client_id}"

    async def fetch(self, meta: AuthMetadata, http: HttpSettings, previous: Token | None) -> Token:
        if not self.client_id:
            raise FlyteAuthenticationException(
                "authType is ClientSecret but no client id is set: add admin.clientId to your Flyte config "
                "(or FLYTE_CREDENTIALS_CLIENT_ID)"
            )
        if not self.secret:
            raise FlyteAuthenticationException(
                f"authType is ClientSecret but no secret for client {self.client_id!r} was found: set "
                "admin.clientSecretLocation (a file) or admin.clientSecretEnvVar in your Flyte config, or "
                "FLYTE_CREDENTIALS_CLIENT_SECRET"
            )
        if not meta.token_endpoint:
            raise FlyteAuthenticationException("the server's GetOAuth2Metadata names no token endpoint")
        form = {"grant_type": "client_credentials", **requested(self.scopes, self.audience, meta)}
        try:
            answer = await post_form(
                meta.token_endpoint,
                form,
                http,
                authorization=basic_authorization(self.client_id, self.secret),
            )
        except OAuthError as exc:
            if exc.error in ("invalid_client", "unauthorized_client") or exc.status == 401:
                raise FlyteAuthenticationException(
                    f"{exc.message}: client {self.client_id!r} or its secret is wrong — check admin.clientId "
                    "and the secret's file (admin.clientSecretLocation) or variable in your Flyte config"
                ) from None
            raise
        token = token_from(answer, meta, self.owner, meta.token_endpoint)
        log.debug("got a client-credentials token for %r from %s", self.client_id, meta.token_endpoint)
        return token


@dataclass
class ExternalCommand:
    """Runs ``command``; its stripped standard output is the token (sent in the server's header)."""

    command: Sequence[str]
    timeout: float = COMMAND_TIMEOUT_S

    @property
    def owner(self) -> str:
        # a digest, not the command: its arguments may hold credentials, and owners show up in reprs
        return "ExternalCommand:" + hashlib.sha256("\0".join(self.command).encode()).hexdigest()[:16]

    async def fetch(self, meta: AuthMetadata, http: HttpSettings, previous: Token | None) -> Token:
        if not self.command:
            raise FlyteAuthenticationException(
                "authType is ExternalCommand but no command is set: add admin.command (a list) to your Flyte "
                "config, or FLYTE_CREDENTIALS_COMMAND"
            )
        name = self.command[0]
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise FlyteAuthenticationException(
                f"cannot run the auth command {name!r} ({exc.strerror}): fix admin.command in your "
                "Flyte config"
            ) from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise FlyteTimeout(
                f"the auth command {name!r} did not finish within {self.timeout:.0f} s"
            ) from None
        if proc.returncode != 0:
            tail = redact(err.decode("utf-8", "replace").strip())[-500:]
            raise FlyteAuthenticationException(
                f"the auth command {name!r} failed (exit {proc.returncode})" + (f": {tail}" if tail else "")
            )
        token = out.decode("utf-8", "replace").strip()
        if not token:
            raise FlyteAuthenticationException(f"the auth command {name!r} printed no token")
        log.debug("got a token from the auth command %r", name)
        return Token(token, meta.header, self.owner)


@dataclass(frozen=True)
class DeviceCode:
    """What to show the user: open ``verification_uri`` and enter ``user_code`` (or open
    ``verification_uri_complete``, which carries it) within ``expires_in`` seconds. For PKCE ``user_code``
    is empty: the user just opens the URL."""

    verification_uri: str
    user_code: str
    verification_uri_complete: str
    expires_in: float


DeviceCodeHook = Callable[[DeviceCode], "Awaitable[None] | None"]


def log_device_code(code: DeviceCode) -> None:
    """The default hook: say where to sign in, in the log (a language server shows it through the editor)."""
    if code.user_code:
        log.warning(
            "to sign in to Flyte, open %s and enter the code %s", code.verification_uri, code.user_code
        )
    else:
        log.warning("to sign in to Flyte, open %s", code.verification_uri_complete)


async def show(hook: DeviceCodeHook, code: DeviceCode) -> None:
    """Call a sign-in hook, awaiting what it returns when it is a coroutine function."""
    shown = hook(code)
    if shown is not None:
        await shown


@dataclass
class SignIn:
    """What the flows in which the user signs in (:class:`DeviceFlow`, :class:`~.pkce.Pkce`) share: a
    public client (no secret; the server's ``public_client_id`` when ``client_id`` is unset), the scopes
    and audience asked for, and the refresh token tried before a new sign-in."""

    client_id: str | None = None
    scopes: Sequence[str] = ()
    audience: str | None = None

    @property
    def owner(self) -> str:
        return f"{type(self).__name__}:{self.client_id or ''}"

    def client(self, meta: AuthMetadata) -> str:
        return self.client_id or meta.public_client_id

    async def refreshed(self, previous: Token | None, meta: AuthMetadata, http: HttpSettings) -> Token | None:
        """A new token for ``previous``'s refresh token, or None (no refresh token, or the server refused
        it)."""
        if previous is None or not previous.refresh_token or not meta.token_endpoint:
            return None
        form = {
            "grant_type": "refresh_token",
            "client_id": self.client(meta),
            "refresh_token": previous.refresh_token,
        }
        try:
            answer = await post_form(meta.token_endpoint, form, http)
        except OAuthError:
            log.info("the refresh token was refused; signing in again")
            return None
        return token_from(answer, meta, self.owner, meta.token_endpoint)


@dataclass
class DeviceFlow(SignIn):
    """OAuth2 device authorization: the user approves a code in a browser while this polls the token
    endpoint. ``on_device_code`` shows the user the URL and code. A refresh token, when the server gives
    one, is tried first next time."""

    on_device_code: DeviceCodeHook = log_device_code

    async def fetch(self, meta: AuthMetadata, http: HttpSettings, previous: Token | None) -> Token:
        client_id = self.client(meta)
        if not meta.device_authorization_endpoint or not meta.token_endpoint:
            raise FlyteAuthenticationException(
                "the server offers no device authorization endpoint: use authType Pkce or ClientSecret"
            )
        token = await self.refreshed(previous, meta, http)
        if token is not None:
            return token
        form = {"client_id": client_id, **requested(self.scopes, self.audience, meta)}
        started = await post_form(meta.device_authorization_endpoint, form, http)
        try:
            code = DeviceCode(
                str(started["verification_uri"]),
                str(started["user_code"]),
                str(started.get("verification_uri_complete") or started["verification_uri"]),
                float(started.get("expires_in", 600)),
            )
            device_code, interval = str(started["device_code"]), float(started.get("interval", 5))
        except (KeyError, TypeError, ValueError):
            raise FlyteAuthenticationException(
                f"{meta.device_authorization_endpoint} gave an incomplete device authorization answer"
            ) from None
        await show(self.on_device_code, code)
        give_up = time.monotonic() + code.expires_in
        poll = {"grant_type": DEVICE_CODE_GRANT, "client_id": client_id, "device_code": device_code}
        while time.monotonic() < give_up:
            try:
                answer = await post_form(meta.token_endpoint, poll, http)
            except OAuthError as exc:
                if exc.error == "slow_down":
                    interval += 5
                elif exc.error != "authorization_pending":
                    raise FlyteAuthenticationException(f"device sign-in failed: {exc.message}") from None
                await asyncio.sleep(interval)
                continue
            return token_from(answer, meta, self.owner, meta.token_endpoint)
        raise FlyteTimeout(
            f"nobody approved the sign-in at {code.verification_uri} within {code.expires_in:.0f} s: "
            "try again"
        )
