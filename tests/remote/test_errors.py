"""errors.py: gRPC statuses map to flytekit's exception classes, with messages that say what to do and never
carry a credential. The RPC errors are real ``grpc.aio.AioRpcError`` objects, as the transport receives them
(test_transport.py covers the same mapping end to end against a real server)."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest

from flyte_ls.remote import errors
from flyte_ls.remote.errors import (
    FlyteAssertion,
    FlyteAuthenticationException,
    FlyteEntityAlreadyExistsException,
    FlyteEntityNotExistException,
    FlyteException,
    FlyteInvalidInputException,
    FlyteSystemException,
    FlyteSystemUnavailableException,
    FlyteTimeout,
    FlyteUserException,
    RegistrationSkipped,
    from_rpc_error,
    redact,
)
from flyte_ls.remote.transport import Kind, is_retryable

S = grpc.StatusCode
ENDPOINT = "admin.example.com:443"


def rpc_error(code: grpc.StatusCode, details: str = "") -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (S.NOT_FOUND, FlyteEntityNotExistException),
        (S.ALREADY_EXISTS, FlyteEntityAlreadyExistsException),
        (S.INVALID_ARGUMENT, FlyteInvalidInputException),
        (S.UNAUTHENTICATED, FlyteAuthenticationException),
        (S.PERMISSION_DENIED, FlyteAuthenticationException),
        (S.DEADLINE_EXCEEDED, FlyteTimeout),
        (S.UNAVAILABLE, FlyteSystemUnavailableException),
        (S.RESOURCE_EXHAUSTED, FlyteSystemUnavailableException),
        (S.FAILED_PRECONDITION, FlyteUserException),
        (S.UNIMPLEMENTED, FlyteSystemException),
        (S.INTERNAL, FlyteSystemException),
        (S.UNKNOWN, FlyteSystemException),
    ],
)
def test_each_status_maps_to_its_class_with_an_actionable_message(code: grpc.StatusCode, cls: type) -> None:
    exc = from_rpc_error(rpc_error(code, "the server's words"), "GetTask", endpoint=ENDPOINT, timeout=10)
    assert type(exc) is cls
    assert exc.code == code and exc.method == "GetTask" and exc.details == "the server's words"
    message = str(exc)
    assert "GetTask" in message and ENDPOINT in message and "the server's words" in message
    assert " — " in message  # the part that says what to do
    advice = message.split(" — ", 1)[1]
    assert len(advice.split()) >= 4


@pytest.mark.timeout(10)
def test_hierarchy_matches_flytekit() -> None:
    for cls in (
        FlyteEntityNotExistException,
        FlyteEntityAlreadyExistsException,
        FlyteTimeout,
        FlyteAuthenticationException,
    ):
        assert issubclass(cls, FlyteAssertion) and issubclass(cls, AssertionError)
    assert issubclass(FlyteAssertion, FlyteUserException)
    assert issubclass(FlyteInvalidInputException, FlyteUserException)
    assert not issubclass(FlyteInvalidInputException, FlyteAssertion)
    assert issubclass(FlyteSystemUnavailableException, FlyteSystemException)
    assert issubclass(FlyteUserException, FlyteException) and issubclass(FlyteSystemException, FlyteException)
    assert not issubclass(RegistrationSkipped, FlyteException)
    assert FlyteEntityNotExistException.error_code == "USER:EntityNotExist"
    assert FlyteTimeout.error_code == "USER:Timeout"
    assert FlyteSystemUnavailableException.error_code == "SYSTEM:Unavailable"


@pytest.mark.timeout(10)
def test_backend_down_names_the_endpoint_and_the_fix() -> None:
    exc = from_rpc_error(
        rpc_error(S.UNAVAILABLE, "failed to connect to all addresses"),
        "ListTasks",
        endpoint="localhost:30080",
        attempts=5,
        elapsed=2.94,
    )
    assert str(exc).startswith("localhost:30080 is unavailable (ListTasks after 5 attempts over 2.9 s)")
    assert "`flyte-ls local start`" in str(exc) and "admin.endpoint and insecure" in str(exc)


@pytest.mark.timeout(10)
def test_an_untrusted_certificate_says_how_to_trust_it_and_is_not_retried() -> None:
    details = (
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.0.0.1:443: Tls handshake failed "
        "(TSI_PROTOCOL_FAILURE): SSL_ERROR_SSL: CERTIFICATE_VERIFY_FAILED: self signed certificate"
    )
    err = rpc_error(S.UNAVAILABLE, details)
    exc = from_rpc_error(err, "GetTask", endpoint=ENDPOINT)
    assert type(exc) is FlyteSystemUnavailableException
    assert str(exc).startswith(
        f"{ENDPOINT}: the TLS handshake failed, the server's certificate is not trusted"
    )
    assert "caCertFilePath" in str(exc) and "insecure: true" in str(exc)
    assert not is_retryable(err, "read")


@pytest.mark.timeout(10)
def test_timeout_says_how_long_it_waited() -> None:
    exc = from_rpc_error(rpc_error(S.DEADLINE_EXCEEDED, "Deadline Exceeded"), "GetExecution", timeout=0.5)
    assert str(exc).startswith("GetExecution: no answer within 0.5 s")
    assert "raise the deadline" in str(exc)


@pytest.mark.timeout(10)
def test_a_too_large_response_is_not_called_overload_and_is_not_retried() -> None:
    err = rpc_error(S.RESOURCE_EXHAUSTED, "Received message larger than max (30000000 vs. 20971520)")
    exc = from_rpc_error(err, "ListNodeExecutions")
    assert type(exc) is FlyteSystemException
    assert "20 MiB" in str(exc) and "smaller page limit" in str(exc)
    assert not is_retryable(err, "read")
    assert is_retryable(rpc_error(S.RESOURCE_EXHAUSTED, "quota"), "create")


@pytest.mark.timeout(10)
def test_retry_policy_by_code_and_kind() -> None:
    kinds: tuple[Kind, ...] = ("read", "create", "update")
    for kind in kinds:
        assert is_retryable(rpc_error(S.UNAVAILABLE), kind)
        for code in (S.NOT_FOUND, S.ALREADY_EXISTS, S.INVALID_ARGUMENT, S.UNAUTHENTICATED, S.INTERNAL):
            assert not is_retryable(rpc_error(code), kind)
    assert is_retryable(rpc_error(S.DEADLINE_EXCEEDED), "read")
    assert not is_retryable(rpc_error(S.DEADLINE_EXCEEDED), "create")
    assert not is_retryable(rpc_error(S.DEADLINE_EXCEEDED), "update")


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "leak",
    [
        "authorization: Bearer abc.def-ghi",
        "flyte-authorization=Bearer abc.def-ghi",
        "client_secret=abc.def-ghi",
        'token: "abc.def-ghi"',
        "Basic abc.def-ghi",
        "jwt eyJhbGciOiJSUzI1NiJ9.abc.def-ghi was rejected",
    ],
)
def test_credentials_in_server_details_are_redacted(leak: str) -> None:
    exc = from_rpc_error(rpc_error(S.UNAUTHENTICATED, f"bad credentials ({leak})"), "GetTask")
    assert "abc.def-ghi" not in str(exc) and "abc.def-ghi" not in exc.details
    assert "[redacted]" in str(exc)
    assert "bad credentials" in str(exc)


@pytest.mark.timeout(10)
def test_redact_leaves_ordinary_text_alone() -> None:
    text = "task [flytesnacks/development/wf.t/v1] does not exist"
    assert redact(text) == text


@pytest.mark.timeout(10)
def test_every_public_name_is_exported() -> None:
    assert set(errors.__all__) >= {
        "FlyteUserException",
        "FlyteEntityNotExistException",
        "FlyteEntityAlreadyExistsException",
        "FlyteInvalidInputException",
        "FlyteTimeout",
        "FlyteAuthenticationException",
        "FlyteSystemUnavailableException",
        "FlyteSystemException",
        "RegistrationSkipped",
        "from_rpc_error",
    }
