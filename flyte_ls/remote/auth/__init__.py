"""Authentication for :mod:`flyte_ls.remote`: ClientSecret (OAuth2 client credentials), ExternalCommand and
DeviceFlow, chosen by the config's ``authType``.

* Lazy: the first RPC goes out without credentials; only an ``UNAUTHENTICATED`` answer triggers discovery
  (``AuthMetadataService.GetOAuth2Metadata`` / ``GetPublicClientConfig`` on the same channel, without
  credentials) and a token request; the failed call is then repeated once. A later ``UNAUTHENTICATED``
  (an expired token) refreshes the same way — tokens are never refreshed on a timer or on other errors.
* The header is the server's ``authorization_metadata_key`` (default ``authorization``), ``Bearer <token>``.
* One token per endpoint, in a process-wide memory cache (:data:`MEMORY_CACHE`), or a
  :class:`FileTokenCache` (0600) when the caller passes one. keyring is never touched.
* ``proxyCommand``: its output goes in ``proxy-authorization: Bearer ...`` on every call (for an
  authenticating proxy in front of Admin); it runs once, before the first call.
* Tokens and secrets are never logged nor put in exception messages.
* ``Pkce`` (flytekit's default mode) signs in through a browser only when a server demands credentials; a
  server without auth never sees a sign-in. ``on_device_code`` shows the user the URL (and, for DeviceFlow,
  the code) — by default in the log; a language server opens it through the editor.

Usage::

    auth = authenticator_for(config, on_device_code=show)   # show(DeviceCode): URL + user code for the user
    transport = Transport(config.endpoint, insecure=config.insecure, **auth.transport_options())
    auth.attach(transport)
"""

from __future__ import annotations

from flyte_ls.remote.auth.authenticator import Authenticator, TransportOptions
from flyte_ls.remote.auth.cache import MEMORY_CACHE, FileTokenCache, Token, TokenCache
from flyte_ls.remote.auth.flows import (
    ClientSecret,
    DeviceCode,
    DeviceCodeHook,
    DeviceFlow,
    ExternalCommand,
    Flow,
    log_device_code,
)
from flyte_ls.remote.auth.oauth import AuthMetadata, HttpSettings, OAuthError
from flyte_ls.remote.auth.pkce import Pkce
from flyte_ls.remote.config import AuthType, Config


def flow_for(config: Config, *, on_device_code: DeviceCodeHook = log_device_code) -> Flow | None:
    """The flow the config's ``authType`` names (None for an authType this package does not implement)."""
    if config.auth_mode == AuthType.CLIENT_SECRET:
        return ClientSecret(
            config.client_id, config.client_credentials_secret, config.scopes, config.audience
        )
    if config.auth_mode == AuthType.EXTERNAL_COMMAND:
        return ExternalCommand(tuple(config.command or ()))
    if config.auth_mode == AuthType.DEVICE_FLOW:
        return DeviceFlow(config.client_id, config.scopes, config.audience, on_device_code)
    if config.auth_mode == AuthType.PKCE:
        return Pkce(config.client_id, config.scopes, config.audience, on_device_code)
    return None


def authenticator_for(
    config: Config,
    *,
    cache: TokenCache = MEMORY_CACHE,
    on_device_code: DeviceCodeHook = log_device_code,
) -> Authenticator:
    """An :class:`Authenticator` for ``config`` (its endpoint, authType, credentials, proxy and CA file)."""
    http = HttpSettings(
        proxy_url=config.http_proxy_url,
        ca_cert_file=config.ca_cert_file_path,
        skip_verify=config.insecure_skip_verify,
    )
    return Authenticator(
        config.endpoint,
        flow_for(config, on_device_code=on_device_code),
        cache=cache,
        http=http,
        unsupported=f"authType {config.auth_mode.value}",
        proxy=ExternalCommand(config.proxy_command) if config.proxy_command else None,
    )


__all__ = [
    "MEMORY_CACHE",
    "AuthMetadata",
    "Authenticator",
    "ClientSecret",
    "DeviceCode",
    "DeviceCodeHook",
    "DeviceFlow",
    "ExternalCommand",
    "FileTokenCache",
    "Flow",
    "HttpSettings",
    "OAuthError",
    "Pkce",
    "Token",
    "TokenCache",
    "TransportOptions",
    "authenticator_for",
    "flow_for",
    "log_device_code",
]
