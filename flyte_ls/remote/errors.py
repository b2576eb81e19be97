"""The exceptions of :mod:`flyte_ls.remote`, with flytekit's names and hierarchy, so code written against
flytekit's FlyteRemote catches the same classes.

Every message says what to do next. Messages are built from the RPC name, the endpoint and the server's
status details only — never from call metadata — and :func:`redact` removes anything that looks like a
credential from the details, because servers (and proxies in front of them) sometimes echo headers back.
"""

from __future__ import annotations

import re

import grpc


class FlyteException(Exception):
    """Base of every error raised by :mod:`flyte_ls.remote`.

    ``code`` is the gRPC status that caused it (``None`` when it did not come from an RPC), ``method`` the RPC
    name and ``details`` the server's (redacted) explanation.
    """

    error_code = "UnknownFlyteException"

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        method: str = "",
        details: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.method = method
        self.details = details


class FlyteUserException(FlyteException):
    """The request cannot succeed as sent: change it (identifiers, inputs, credentials)."""

    error_code = "USER:Unknown"


class FlyteAssertion(FlyteUserException, AssertionError):
    error_code = "USER:AssertionError"


class FlyteEntityNotExistException(FlyteAssertion):
    """Admin has no such task, workflow, launch plan, execution, project, signal... (``NOT_FOUND``)."""

    error_code = "USER:EntityNotExist"


class FlyteEntityAlreadyExistsException(FlyteAssertion):
    """The identifier is taken (``ALREADY_EXISTS``); an identical re-registration is safe to ignore."""

    error_code = "USER:EntityAlreadyExists"


class FlyteTimeout(FlyteAssertion):
    """A deadline passed: an RPC's (``DEADLINE_EXCEEDED``) or a caller's, such as ``wait(timeout=...)``."""

    error_code = "USER:Timeout"


class FlyteAuthenticationException(FlyteAssertion):
    """The backend rejected the caller's credentials (``UNAUTHENTICATED``) or permissions."""

    error_code = "USER:AuthenticationError"


class FlyteInvalidInputException(FlyteUserException):
    """Admin rejected the request's content (``INVALID_ARGUMENT``), e.g. a changed spec, same version."""

    error_code = "USER:BadInputToAPI"


class FlyteSystemException(FlyteException):
    """The backend failed; the request may succeed later or on another backend."""

    error_code = "SYSTEM:Unknown"


class FlyteSystemUnavailableException(FlyteSystemException):
    """The backend could not be reached, or stayed overloaded, after the retries."""

    error_code = "SYSTEM:Unavailable"


class RegistrationSkipped(Exception):
    """Raised for an entity that cannot be registered (a fetched remote entity); callers skip it."""


# Things that look like credentials in free text: bearer/basic values, key=value pairs with secret-sounding
# keys, and JWTs (three base64url segments, the first starting with the encoded '{"').
_SECRET_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)\b((?:authorization|proxy-authorization|flyte-authorization|access_token|refresh_token|id_token"
        r"|client_secret|token|password|secret)\"?\s*[:=]\s*\"?)[^\s\",;]+"
    ),
    re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
)


def redact(text: str) -> str:
    """``text`` with anything that looks like a token, secret or authorization header value replaced."""
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)} [redacted]", text)
    text = _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}[redacted]", text)
    return _SECRET_PATTERNS[2].sub("[redacted]", text)


def is_untrusted_certificate(details: str) -> bool:
    """Whether an ``UNAVAILABLE``'s details say the server's TLS certificate failed verification (which no
    retry will change)."""
    return "CERTIFICATE_VERIFY_FAILED" in details


_CONFIG_HINT = (
    "check admin.endpoint and insecure in your Flyte config (FLYTECTL_CONFIG, ~/.flyte/config.yaml)"
)


def _where(method: str, endpoint: str) -> str:
    return f"{method} to {endpoint}" if endpoint else method


def from_rpc_error(
    err: grpc.RpcError,
    method: str,
    *,
    endpoint: str = "",
    timeout: float | None = None,
    attempts: int = 1,
    elapsed: float | None = None,
) -> FlyteException:
    """The :class:`FlyteException` for a failed RPC ``method`` (e.g. ``"GetTask"``).

    ``endpoint``, ``timeout`` (the deadline of the last attempt), ``attempts`` and ``elapsed`` (seconds over
    all attempts) make the message concrete; none of them is required.
    """
    code_fn = getattr(err, "code", None)
    details_fn = getattr(err, "details", None)
    code = code_fn() if callable(code_fn) else None
    details = redact(str((details_fn() if callable(details_fn) else None) or "").strip())
    where = _where(method, endpoint)
    said = f": {details}" if details else ""
    tried = ""
    if attempts > 1:
        tried = f" after {attempts} attempts" + (f" over {elapsed:.1f} s" if elapsed is not None else "")

    def make(cls: type[FlyteException], message: str) -> FlyteException:
        return cls(message, code=code, method=method, details=details)

    S = grpc.StatusCode
    if code == S.NOT_FOUND:
        return make(
            FlyteEntityNotExistException,
            f"{where}: not found{said} — check the project, domain, name and version "
            "(list what exists with the list_* methods, or register it first)",
        )
    if code == S.ALREADY_EXISTS:
        return make(
            FlyteEntityAlreadyExistsException,
            f"{where}: already exists{said} — an identical re-registration can be ignored; to change it, "
            "register under a new version (or use a new execution name)",
        )
    if code == S.INVALID_ARGUMENT:
        return make(
            FlyteInvalidInputException,
            f"{where}: the backend rejected the request{said} — fix the request; a definition that changed "
            "needs a new version",
        )
    if code == S.UNAUTHENTICATED:
        return make(
            FlyteAuthenticationException,
            f"{where}: not authenticated{said} — check authType, clientId and the client secret (or command) "
            "in your Flyte config, or log in again",
        )
    if code == S.PERMISSION_DENIED:
        return make(
            FlyteAuthenticationException,
            f"{where}: permission denied{said} — the identity in your Flyte config lacks access to this "
            "project and domain; ask an administrator, or use other credentials",
        )
    if code == S.DEADLINE_EXCEEDED:
        limit = f" within {timeout:g} s" if timeout is not None else " within its deadline"
        said = "" if details.lower() == "deadline exceeded" else said  # gRPC's own words add nothing
        return make(
            FlyteTimeout,
            f"{where}: no answer{limit}{tried}{said} — the backend is slow or the network stalled; retry, "
            "or raise the deadline (FlyteRemote(..., deadlines=Deadlines(read=..., create=...)))",
        )
    if code == S.UNAVAILABLE:
        target = endpoint or "the Flyte backend"
        if is_untrusted_certificate(details):
            return make(
                FlyteSystemUnavailableException,
                f"{target}: the TLS handshake failed, the server's certificate is not trusted "
                f"({method}){said} — set caCertFilePath to the CA that signed it in your Flyte config "
                "(or insecureSkipVerify: true to trust it as is); if the backend speaks plaintext, set "
                "insecure: true",
            )
        return make(
            FlyteSystemUnavailableException,
            f"{target} is unavailable ({method}{tried}){said} — is the backend running? Start the local one "
            f"with `flyte-ls local start`, or {_CONFIG_HINT}",
        )
    if code == S.RESOURCE_EXHAUSTED:
        if "larger than max" in details:
            return make(
                FlyteSystemException,
                f"{where}: the response is larger than the 20 MiB receive limit{said} — ask for less "
                "(a smaller page limit, or fetch the data through its URI)",
            )
        return make(
            FlyteSystemUnavailableException,
            f"{where}: the backend is overloaded{tried}{said} — wait and retry, or lower the request rate",
        )
    if code == S.FAILED_PRECONDITION:
        return make(
            FlyteUserException,
            f"{where}: not possible in the entity's current state{said} — check its state (phase, "
            "active/inactive) and try again",
        )
    if code == S.UNIMPLEMENTED:
        return make(
            FlyteSystemException,
            f"{where}: the backend does not implement this RPC{said} — upgrade Flyte Admin (or the local "
            "backend), or use a client feature it supports",
        )
    name = code.name if code is not None else "UNKNOWN"
    return make(
        FlyteSystemException,
        f"{where}: the backend failed ({name}){said} — retry; if it persists, see the backend's logs",
    )


__all__ = [
    "FlyteAssertion",
    "FlyteAuthenticationException",
    "FlyteEntityAlreadyExistsException",
    "FlyteEntityNotExistException",
    "FlyteException",
    "FlyteInvalidInputException",
    "FlyteSystemException",
    "FlyteSystemUnavailableException",
    "FlyteTimeout",
    "FlyteUserException",
    "RegistrationSkipped",
    "from_rpc_error",
    "is_untrusted_certificate",
    "redact",
]
