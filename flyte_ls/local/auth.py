"""The local backend's optional auth mode (``flyte-ls local start --auth client-secret``): a small OAuth2
server so clients' auth flows are exercised for real.

* gRPC: ``AuthMetadataService`` (``GetOAuth2Metadata``, ``GetPublicClientConfig``) answers anyone; every other
  RPC needs ``<header>: Bearer <token>`` with a token this backend issued and that has not expired, else
  ``UNAUTHENTICATED`` (:class:`BearerInterceptor`). ``<header>`` is ``authorization`` unless
  ``--auth-header`` names another (Admin deployments often use ``flyte-authorization``); clients learn it
  from ``authorization_metadata_key``.
* HTTP (the ``--http-port``, and the shared gRPC port): ``POST /oauth2/token`` with
  ``grant_type=client_credentials`` (client id and secret by HTTP Basic, flytekit's way, or as form fields)
  ``urn:ietf:params:oauth:grant-type:device_code``, ``authorization_code`` (PKCE, S256 only) or
  ``refresh_token``; ``POST /oauth2/device/authorize`` starts a device flow and ``/oauth2/device`` is its
  verification page (a form whose POST approves the code); ``/oauth2/authorize`` is PKCE's consent page
  (its form POST redirects to the client's ``redirect_uri`` with a code).
* The confidential client's id is :data:`CLIENT_ID`; its secret is generated once into ``client-secret``
  in the state dir (0600) and the written ``config.yaml`` names that file (``clientSecretLocation``).

Tokens are random strings kept in memory: a restart invalidates them, which clients handle by fetching a
new one. Nothing here logs a token or the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import secrets
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode

import grpc
from flyteidl.service import auth_pb2, auth_pb2_grpc

from flyte_ls.local.state import write_atomic

log = logging.getLogger(__name__)

MODES = ("client-secret",)
CLIENT_ID = "flyte-ls-local"
PUBLIC_CLIENT_ID = "flyte-ls-local-public"  # device flow: no secret
DEFAULT_HEADER = "authorization"
DEFAULT_TOKEN_TTL_S = 3600.0
SECRET_FILE = "client-secret"
TOKEN_PATH = "/oauth2/token"
DEVICE_AUTHORIZE_PATH = "/oauth2/device/authorize"
DEVICE_PAGE_PATH = "/oauth2/device"
AUTHORIZE_PATH = "/oauth2/authorize"
REDIRECT_URI = "http://localhost:53593/callback"  # flytekit's default PKCE callback
AUTH_CODE_TTL_S = 120
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_CODE_TTL_S = 600
DEVICE_POLL_INTERVAL_S = 1
_AUTH_SERVICE_PREFIX = "/flyteidl.service.AuthMetadataService/"

# (status, content type, body, extra headers)
Reply = tuple[int, str, bytes, dict[str, str]]
GetRoute = Callable[[str, dict[str, list[str]]], tuple[int, str, bytes]]


def client_secret(state_root: Path) -> str:
    """The confidential client's secret, created (0600) on first use and kept across restarts; a file that
    is unreadable, too short or readable by others is replaced."""
    path = secret_path(state_root)
    try:
        st = path.stat()
        if stat.S_ISREG(st.st_mode) and not st.st_mode & 0o077:
            secret = path.read_text(encoding="utf-8").strip()
            if len(secret) >= 32:
                return secret
    except (OSError, UnicodeDecodeError):
        pass
    secret = secrets.token_urlsafe(32)
    write_atomic(path, secret + "\n")  # mode 0600
    return secret


def secret_path(state_root: Path) -> Path:
    return state_root / SECRET_FILE


@dataclass(frozen=True)
class _AuthCode:
    challenge: str
    redirect_uri: str
    expires_at: float


@dataclass
class _DeviceCode:
    user_code: str
    expires_at: float
    approved: bool = False


class LocalAuth:
    """Issues and checks bearer tokens; the state behind the interceptor and the HTTP endpoints."""

    def __init__(
        self,
        state_root: Path,
        base_url: str,
        *,
        header: str = DEFAULT_HEADER,
        token_ttl_s: float = DEFAULT_TOKEN_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.header = header.lower()
        self.base_url = base_url.rstrip("/")
        self.token_ttl_s = token_ttl_s
        self.secret_location = secret_path(state_root)
        self._secret = client_secret(state_root)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self._devices: dict[str, _DeviceCode] = {}  # device_code -> state
        self._codes: dict[str, _AuthCode] = {}  # PKCE authorization code -> its challenge
        self._refresh: set[str] = set()  # refresh tokens issued (valid until a restart)

    client_id = CLIENT_ID

    @staticmethod
    def post_paths() -> tuple[str, ...]:
        return (TOKEN_PATH, DEVICE_AUTHORIZE_PATH, DEVICE_PAGE_PATH, AUTHORIZE_PATH)

    @staticmethod
    def page_headers() -> dict[str, str]:
        """Headers of the sign-in pages: their forms may post here and redirect to the PKCE callback; no
        script, no framing (no clickjacking of the Approve button)."""
        return {
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://localhost:53593; "
                "frame-ancestors 'none'; base-uri 'none'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }

    def get_routes(self) -> tuple[tuple[str, GetRoute], ...]:
        return ((DEVICE_PAGE_PATH, self.device_page), (AUTHORIZE_PATH, self.authorize_page))

    # -- tokens ------------------------------------------------------------------------------------------
    def issue(self) -> tuple[str, int]:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self.token_ttl_s
        return token, max(int(self.token_ttl_s), 1)

    def check(self, header_value: str | None) -> str | None:
        """None when ``header_value`` carries a valid token, else why not (for the UNAUTHENTICATED status)."""
        if not header_value:
            return (
                f"no {self.header!r} header: this backend runs with --auth; get a token from "
                f"{self.base_url}{TOKEN_PATH} (the client id and secret are in the backend's config.yaml)"
            )
        scheme, _, token = header_value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return f"the {self.header!r} header must be 'Bearer <access token>'"
        with self._lock:
            expiry = self._tokens.get(token.strip())
        if expiry is None:
            return "the access token is not one this backend issued (or it restarted since): get a new one"
        if expiry <= self._clock():
            return "the access token has expired: get a new one"
        return None

    # -- gRPC --------------------------------------------------------------------------------------------
    def metadata_servicer(self) -> auth_pb2_grpc.AuthMetadataServiceServicer:
        return _AuthMetadata(self)

    def interceptor(self) -> grpc.ServerInterceptor:
        return BearerInterceptor(self)

    # -- HTTP --------------------------------------------------------------------------------------------
    def handle_post(self, path: str, headers: Any, body: bytes) -> Reply:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if path == TOKEN_PATH:
            return self._token(headers, form)
        if path == DEVICE_AUTHORIZE_PATH:
            return self._device_authorize(form)
        if path == DEVICE_PAGE_PATH:
            return self._device_approve(form)
        if path == AUTHORIZE_PATH:
            return self._authorize(form)
        return _json(404, {"error": "not_found", "error_description": f"no OAuth2 endpoint at {path}"})

    def device_page(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        """GET route: the verification page; its form POSTs the user code back to approve it."""
        code = html.escape(query.get("user_code", [""])[0])
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>flyte-ls local: sign in</title></head>"
            "<body><h1>Approve a device sign-in</h1>"
            f"<form method='post' action='{DEVICE_PAGE_PATH}'><label>Code <input name='user_code' "
            f"value='{code}'></label> <button type='submit'>Approve</button></form></body></html>\n"
        )
        return 200, "text/html; charset=utf-8", page.encode()

    def _client_ok(self, headers: Any, form: dict[str, str]) -> bool:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = str(headers.get("Authorization") or "")
        if basic[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(basic[6:].strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return False
            client_id, _, quoted = decoded.partition(":")
            secret = unquote_plus(quoted)  # flytekit quote_plus-es the secret
        return client_id == CLIENT_ID and hmac.compare_digest(secret.encode(), self._secret.encode())

    def _token(self, headers: Any, form: dict[str, str]) -> Reply:
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            if not self._client_ok(headers, form):
                log.info("token request refused: wrong client id or secret")
                return _json(
                    401,
                    {"error": "invalid_client", "error_description": "unknown client id or wrong secret"},
                    {"WWW-Authenticate": 'Basic realm="flyte-ls-local"'},
                )
            return self._token_reply()
        if grant == DEVICE_CODE_GRANT:
            return self._device_token(form)
        if grant == "authorization_code":
            return self._code_token(form)
        if grant == "refresh_token":
            with self._lock:
                known = form.get("refresh_token", "") in self._refresh
            if not known:
                return _json(400, {"error": "invalid_grant", "error_description": "unknown refresh token"})
            return self._token_reply(refresh=form["refresh_token"])
        return _json(400, {"error": "unsupported_grant_type", "error_description": f"grant {grant!r}"})

    def _token_reply(self, refresh: str | None = None) -> Reply:
        """A token; with ``refresh`` (a refresh token, or "" for a new one) a refresh token too."""
        token, expires_in = self.issue()
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "expires_in": expires_in}
        if refresh is not None:
            answer["refresh_token"] = refresh or secrets.token_urlsafe(32)
            with self._lock:
                self._refresh.add(answer["refresh_token"])
        return _json(200, answer)

    # -- PKCE ----------------------------------------------------------------------------------------------
    @staticmethod
    def _authorize_refusal(form: dict[str, str]) -> str | None:
        if form.get("client_id") != PUBLIC_CLIENT_ID:
            return f"unknown client_id (this backend's public client is {PUBLIC_CLIENT_ID})"
        if form.get("response_type") != "code" or form.get("code_challenge_method") != "S256":
            return "only response_type=code with code_challenge_method=S256 is supported"
        if not form.get("code_challenge") or form.get("redirect_uri") != REDIRECT_URI:
            return f"a code_challenge and redirect_uri={REDIRECT_URI} are required"
        return None

    def authorize_page(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        """GET route: PKCE's consent page; its form POSTs the request back to approve it."""
        form = {k: v[0] for k, v in query.items()}
        why = self._authorize_refusal(form)
        if why is not None:
            return 400, "text/plain; charset=utf-8", f"cannot sign in: {why}\n".encode()
        hidden = "".join(
            f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>" for k, v in form.items()
        )
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>flyte-ls local: sign in</title></head>"
            "<body><h1>Sign in to the local Flyte backend?</h1>"
            f"<form method='post' action='{AUTHORIZE_PATH}'>{hidden}"
            "<button type='submit'>Approve</button></form></body></html>\n"
        )
        return 200, "text/html; charset=utf-8", page.encode()

    def _authorize(self, form: dict[str, str]) -> Reply:
        why = self._authorize_refusal(form)
        if why is not None:
            return 400, "text/plain; charset=utf-8", f"cannot sign in: {why}\n".encode(), {}
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _AuthCode(
                form["code_challenge"], REDIRECT_URI, self._clock() + AUTH_CODE_TTL_S
            )
        location = f"{REDIRECT_URI}?{urlencode({'code': code, 'state': form.get('state', '')})}"
        return 302, "text/plain; charset=utf-8", b"approved\n", {"Location": location}

    def _code_token(self, form: dict[str, str]) -> Reply:
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # a code is used once
        if (
            grant is None
            or grant.expires_at <= self._clock()
            or form.get("redirect_uri") != grant.redirect_uri
        ):
            return _json(400, {"error": "invalid_grant", "error_description": "unknown or expired code"})
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return _json(
                400, {"error": "invalid_grant", "error_description": "the code_verifier does not match"}
            )
        return self._token_reply(refresh="")

    def _device_authorize(self, form: dict[str, str]) -> Reply:
        if form.get("client_id") != PUBLIC_CLIENT_ID:
            return _json(400, {"error": "invalid_client", "error_description": f"use {PUBLIC_CLIENT_ID}"})
        device_code = secrets.token_urlsafe(24)
        user_code = "-".join(secrets.token_hex(2).upper() for _ in range(2))
        with self._lock:
            self._devices[device_code] = _DeviceCode(user_code, self._clock() + DEVICE_CODE_TTL_S)
        uri = f"{self.base_url}{DEVICE_PAGE_PATH}"
        return _json(
            200,
            {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": uri,
                "verification_uri_complete": f"{uri}?user_code={user_code}",
                "expires_in": DEVICE_CODE_TTL_S,
                "interval": DEVICE_POLL_INTERVAL_S,
            },
        )

    def _device_approve(self, form: dict[str, str]) -> Reply:
        code = form.get("user_code", "").strip().upper()
        with self._lock:
            now = self._clock()
            found = [d for d in self._devices.values() if d.user_code == code and d.expires_at > now]
            for d in found:
                d.approved = True
        if not found:
            return 404, "text/plain; charset=utf-8", b"no pending sign-in has that code\n", {}
        return 200, "text/plain; charset=utf-8", b"approved: you can close this page\n", {}

    def _device_token(self, form: dict[str, str]) -> Reply:
        with self._lock:
            device = self._devices.get(form.get("device_code", ""))
            if device is None or device.expires_at <= self._clock():
                return _json(400, {"error": "expired_token"})
            if not device.approved:
                return _json(400, {"error": "authorization_pending"})
            del self._devices[form["device_code"]]
        return self._token_reply(refresh="")


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    extra = {"Cache-Control": "no-store", **(headers or {})}
    return status, "application/json", json.dumps(payload).encode(), extra


class _AuthMetadata(auth_pb2_grpc.AuthMetadataServiceServicer):
    def __init__(self, auth: LocalAuth) -> None:
        self._auth = auth

    def GetOAuth2Metadata(self, request: Any, context: Any) -> auth_pb2.OAuth2MetadataResponse:
        base = self._auth.base_url
        return auth_pb2.OAuth2MetadataResponse(
            issuer=base,
            token_endpoint=base + TOKEN_PATH,
            device_authorization_endpoint=base + DEVICE_AUTHORIZE_PATH,
            authorization_endpoint=base + AUTHORIZE_PATH,
            code_challenge_methods_supported=["S256"],
            grant_types_supported=[
                "client_credentials",
                DEVICE_CODE_GRANT,
                "authorization_code",
                "refresh_token",
            ],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            scopes_supported=["all"],
            response_types_supported=["code", "token"],
        )

    def GetPublicClientConfig(self, request: Any, context: Any) -> auth_pb2.PublicClientAuthConfigResponse:
        return auth_pb2.PublicClientAuthConfigResponse(
            client_id=PUBLIC_CLIENT_ID,
            redirect_uri=REDIRECT_URI,
            scopes=["all"],
            authorization_metadata_key=self._auth.header,
        )


class BearerInterceptor(grpc.ServerInterceptor):
    """Refuses every RPC but AuthMetadataService's without a valid bearer token (UNAUTHENTICATED)."""

    def __init__(self, auth: LocalAuth) -> None:
        self._auth = auth

    def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None or details.method.startswith(_AUTH_SERVICE_PREFIX):
            return handler
        value = next((v for k, v in details.invocation_metadata or () if k == self._auth.header), None)
        why = self._auth.check(value if isinstance(value, str) else None)
        if why is None:
            return handler

        def refuse(request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, why)

        log.info("%s refused: %s", details.method, why)
        serde = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(refuse, **serde)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(refuse, **serde)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(refuse, **serde)
        return grpc.unary_unary_rpc_method_handler(refuse, **serde)
