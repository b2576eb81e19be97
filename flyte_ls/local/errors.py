"""Admin's error semantics: every failure reaches the client with a specific gRPC status, never ``UNKNOWN``.

flytekit answers ``UNKNOWN`` (and ``UNAUTHENTICATED``) with an auth refresh that hides the real error, so an
uncaught exception in a servicer must become ``INTERNAL`` with a readable message, and expected failures use
the codes Admin uses (see ../shared/reference/local-backend.md §2).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

log = logging.getLogger(__name__)


class AdminError(Exception):
    """A failure with the gRPC status Admin would answer."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(AdminError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(AdminError):
    code = grpc.StatusCode.ALREADY_EXISTS


class InvalidArgument(AdminError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class FailedPrecondition(AdminError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(AdminError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unimplemented(AdminError):
    code = grpc.StatusCode.UNIMPLEMENTED


F = TypeVar("F", bound=Callable[..., Any])


def _abort(context: grpc.ServicerContext, method: str, exc: BaseException) -> None:
    if isinstance(exc, AdminError):
        log.info("%s: %s %s", method, exc.code.name, exc.message)
        context.abort(exc.code, exc.message)
    log.exception("%s failed", method)
    context.abort(grpc.StatusCode.INTERNAL, f"{method}: internal error in the local backend: {exc!r}")


def rpc(method: F) -> F:
    """Wrap a servicer method (sync or async) so that no exception escapes as ``UNKNOWN``."""
    name = method.__qualname__
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def async_wrapper(self: Any, request: Any, context: Any) -> Any:
            try:
                return await method(self, request, context)
            except Exception as exc:  # mapped to a status, never UNKNOWN
                if isinstance(exc, AdminError):
                    await context.abort(exc.code, exc.message)
                log.exception("%s failed", name)
                await context.abort(grpc.StatusCode.INTERNAL, f"{name}: internal error: {exc!r}")

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(method)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except Exception as exc:  # mapped to a status, never UNKNOWN
            _abort(context, name, exc)
            raise  # unreachable: abort raises

    return wrapper  # type: ignore[return-value]
