"""The network half of auth: discovery through Admin's ``AuthMetadataService`` and OAuth2 form posts to the
token and device endpoints (stdlib ``urllib``, run in a worker thread so the event loop never blocks).
``urllib.request`` and the AuthMetadataService stubs are imported on first use: most servers never ask for
credentials, and a client that never authenticates should not pay for them.

Error messages name the endpoint, the OAuth2 error code and what to do; they never include a token, the
client secret or the request body.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from flyte_ls.remote.errors import FlyteAuthenticationException, from_rpc_error, redact

if TYPE_CHECKING:
    import urllib.request

HTTP_TIMEOUT_S = 30.0
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True)
class AuthMetadata:
    """What the server says about its auth (``GetOAuth2Metadata`` + ``GetPublicClientConfig``)."""

    token_endpoint: str = ""
    device_authorization_endpoint: str = ""
    authorization_endpoint: str = ""
    public_client_id: str = ""
    redirect_uri: str = ""
    scopes: tuple[str, ...] = ()
    header: str = "authorization"
    audience: str = ""


async def discover(channel: grpc.aio.Channel, endpoint: str, timeout: float = 10.0) -> AuthMetadata:
    """Ask the server (without credentials) where its token endpoint is and which header carries tokens."""
    from flyteidl.service import auth_pb2, auth_pb2_grpc

    stub = auth_pb2_grpc.AuthMetadataServiceStub(channel)
    try:
        meta = await stub.GetOAuth2Metadata(auth_pb2.OAuth2MetadataRequest(), timeout=timeout)
        client = await stub.GetPublicClientConfig(auth_pb2.PublicClientAuthConfigRequest(), timeout=timeout)
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.UNIMPLEMENTED:
            raise FlyteAuthenticationException(
                f"{endpoint} asks for credentials but has no AuthMetadataService to say how to get them: use "
                "authType ExternalCommand (a command that prints a token) in your Flyte config",
                code=err.code(),
                method="GetOAuth2Metadata",
            ) from err
        raise from_rpc_error(err, "GetOAuth2Metadata", endpoint=endpoint) from err
    return AuthMetadata(
        token_endpoint=meta.token_endpoint,
        device_authorization_endpoint=meta.device_authorization_endpoint,
        authorization_endpoint=meta.authorization_endpoint,
        public_client_id=client.client_id,
        redirect_uri=client.redirect_uri,
        scopes=tuple(client.scopes),
        header=(client.authorization_metadata_key or "authorization").lower(),
        audience=client.audience,
    )


class OAuthError(FlyteAuthenticationException):
    """An OAuth2 endpoint said no; ``error`` is its error code (``invalid_client``, ``authorization_pending``
    ...) and ``status`` the HTTP status."""

    def __init__(self, message: str, *, error: str, status: int) -> None:
        super().__init__(message)
        self.error = error
        self.status = status


@dataclass(frozen=True)
class HttpSettings:
    """How OAuth2 requests reach the identity provider: proxy, CA file, or no verification (as the config's
    ``httpProxyURL``, ``caCertFilePath`` and ``insecureSkipVerify`` say)."""

    proxy_url: str | None = None
    ca_cert_file: str | None = None
    skip_verify: bool = False
    timeout: float = HTTP_TIMEOUT_S

    def opener(self) -> urllib.request.OpenerDirector:
        import urllib.request

        handlers: list[Any] = []
        if self.proxy_url:
            handlers.append(urllib.request.ProxyHandler({"http": self.proxy_url, "https": self.proxy_url}))
        if self.skip_verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            handlers.append(urllib.request.HTTPSHandler(context=ctx))
        elif self.ca_cert_file:
            handlers.append(
                urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=self.ca_cert_file))
            )
        return urllib.request.build_opener(*handlers)


def basic_authorization(client_id: str, secret: str) -> str:
    """HTTP Basic credentials as flytekit (and Flyte's own IdP) expect: the secret URL-quoted first."""
    raw = f"{client_id}:{urllib.parse.quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


async def post_form(
    url: str, form: dict[str, str], http: HttpSettings, *, authorization: str | None = None
) -> dict[str, Any]:
    """POST ``form`` to ``url`` and return the JSON answer; :class:`OAuthError` for an OAuth2 error."""
    return await asyncio.to_thread(_post_form, url, form, http, authorization)


def _post_form(
    url: str, form: dict[str, str], http: HttpSettings, authorization: str | None
) -> dict[str, Any]:
    import urllib.error
    import urllib.request

    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        "Cache-Control": "no-cache",
    }
    if authorization:
        headers["Authorization"] = authorization
    body = urllib.parse.urlencode({k: v for k, v in form.items() if v is not None}).encode()
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with http.opener().open(req, timeout=http.timeout) as resp:
            return _json_object(resp.read(), url)
    except urllib.error.HTTPError as err:
        try:
            payload = _json_object(err.read(), url)
        except FlyteAuthenticationException:
            payload = {}
        code = str(payload.get("error") or f"HTTP {err.code}")
        described = redact(str(payload.get("error_description") or ""))[:300]
        raise OAuthError(
            f"{url} refused the request: {code}" + (f" ({described})" if described else ""),
            error=code,
            status=err.code,
        ) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise FlyteAuthenticationException(
            f"cannot reach the token endpoint {url} ({reason}): check the network, or admin.httpProxyURL / "
            "caCertFilePath in your Flyte config"
        ) from None


def _json_object(raw: bytes, url: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise FlyteAuthenticationException(
            f"{url} did not answer with a JSON object: is it a token endpoint?"
        )
    return data
