"""The JSON-RPC protocol layer: pygls's, plus typed custom requests, proper errors for malformed params, raw
JSON.

pygls drops a request whose params do not deserialise (the client then waits forever) and shows an error popup
for a bad notification. Here a malformed request gets an ``InvalidParams`` response and a log line, a
malformed notification a log line; the server keeps running either way. Results wrapped in :class:`RawJSON`
skip cattrs on the way out (for 500 entities cattrs costs ~40 ms, ``json.dumps`` alone ~3 ms).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from typing import Any

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCResponseMessage

from flyte_ls.server.constants import ENTITIES_REQUEST

log = logging.getLogger(__name__)


def expected_error(error: BaseException) -> bool:
    """An error that is an answer to the user (bad params, a backend that is down, a cancelled request), not
    a bug of the server: every ``JsonRpcException`` a handler raised on purpose. pygls turns an unexpected
    exception into ``JsonRpcInternalError`` (code -32603, also the code of a bare ``JsonRpcException``)."""
    return isinstance(error, JsonRpcException) and error.code != JsonRpcInternalError.CODE


@attrs.define
class RawJSON:
    """A result that is already plain JSON (dicts, lists, strings, numbers)."""

    value: Any


@attrs.define
class JSONText:
    """A result that is already serialised JSON text (built from cached per-entity fragments)."""

    text: str


@attrs.define
class EntitiesParams:
    textDocument: types.TextDocumentIdentifier  # the wire name
    details: bool = False  # also send settings, calls, docstring and kind-specific details


@attrs.define
class EntitiesRequest:
    id: int | str
    params: EntitiesParams
    method: str = ENTITIES_REQUEST
    jsonrpc: str = "2.0"


_CUSTOM_REQUESTS: dict[str, type] = {ENTITIES_REQUEST: EntitiesRequest}


@attrs.define
class MalformedMessage:
    """A message whose params did not deserialise; answered with InvalidParams when it is a request."""

    id: int | str | None
    method: str
    reason: str


class FlyteProtocol(LanguageServerProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending_writes: set[asyncio.Future[Any]] = set()
        self.last_message_at = time.monotonic()  # when the client last sent something (idle detection)
        self.closed = False  # the transport is closed (after `exit`): late sends are dropped

    def get_message_type(self, method: str) -> type[Any] | None:  # type: ignore[override]
        return _CUSTOM_REQUESTS.get(method) or super().get_message_type(method)

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not isinstance(data, dict) or not isinstance(data.get("method"), str):
                raise
            return MalformedMessage(id=data.get("id"), method=data["method"], reason=_reason(exc))

    def handle_message(self, message: Any) -> None:
        self.last_message_at = time.monotonic()
        if isinstance(message, MalformedMessage):
            log.warning("Ignored %s with malformed params: %s", message.method, message.reason)
            if message.id is not None:
                error = JsonRpcInvalidParams(f"Invalid params for {message.method}: {message.reason}")
                self._send_response(message.id, error=error.to_response_error())
            return
        super().handle_message(message)

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        """pygls's, except that an expected error (:func:`expected_error`) is an answer logged at INFO
        without a traceback; anything else is still logged by pygls as an error with its traceback."""
        if not future.cancelled():
            error = future.exception()
            if error is not None and expected_error(error):
                self._request_futures.pop(msg_id, None)
                log.info("Request %s answered with error %s: %s", msg_id, error.code, error.message)
                self._send_response(msg_id, error=error.to_response_error())
                return
        super()._send_handler_result(future, msg_id=msg_id)

    def transport_closed(self) -> bool:
        """Whether the client's stream is gone (closed after `exit`, or by the client)."""
        if self.closed:
            return True
        writer = self.writer
        stream = getattr(writer, "_stdout", None)  # pygls's StdoutWriter
        if stream is not None and getattr(stream, "closed", False):
            return True
        is_closing = getattr(writer, "is_closing", None)  # asyncio.StreamWriter (TCP)
        return bool(callable(is_closing) and is_closing())

    def _send_data(self, data: Any) -> None:
        """pygls's ``_send_data``, with compact JSON and pre-serialised results (the hot path)."""
        if not data:
            return
        if self.writer is None:
            log.error("Unable to send data, no available transport!")
            return
        if self.transport_closed():
            # Work that finished after `exit` (a debounced refresh, a late publish): nobody listens any more.
            log.debug("Not sent (the connection is closed): %s", _describe(data))
            return
        try:
            if isinstance(data, JsonRPCResponseMessage) and isinstance(data.result, JSONText):
                body = f'{{"id":{json.dumps(data.id)},"jsonrpc":"2.0","result":{data.result.text}}}'
            else:
                body = json.dumps(data, default=self._serialize_message, separators=(",", ":"))
            payload = body.encode("utf-8")
            if self._include_headers:
                header = (
                    f"Content-Length: {len(payload)}\r\n"
                    f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
                )
                payload = header.encode("ascii") + payload
            res = self.writer.write(payload)
            if inspect.isawaitable(res):
                self._pending_writes.add(task := asyncio.ensure_future(res))
                task.add_done_callback(self._pending_writes.discard)
        except BrokenPipeError:
            log.error("The client closed the connection.")
            raise
        except ValueError as error:
            if not self.transport_closed():  # not "I/O operation on closed file"
                log.exception("Error sending data")
                self._server._report_server_error(error, JsonRpcInternalError)
                return
            log.debug("Not sent (the connection closed meanwhile): %s", _describe(data))
        except Exception as error:
            log.exception("Error sending data")
            self._server._report_server_error(error, JsonRpcInternalError)

    def _serialize_message(self, data: Any) -> dict[str, Any]:
        if isinstance(data, JsonRPCResponseMessage) and isinstance(data.result, RawJSON):
            return {"id": data.id, "jsonrpc": data.jsonrpc, "result": data.result.value}
        return super()._serialize_message(data)


def _describe(data: Any) -> str:
    method = getattr(data, "method", None)
    if method:
        return str(method)
    ident = getattr(data, "id", None)
    return f"the response to {ident}" if ident is not None else type(data).__name__


def _reason(exc: BaseException) -> str:
    """The innermost useful message of a (cattrs) deserialisation error."""
    cause: BaseException | None = exc.__cause__ or exc
    while cause is not None:
        inner = getattr(cause, "exceptions", None)
        if inner:
            cause = inner[0]
            continue
        break
    text = str(cause) if cause is not None else str(exc)
    notes = getattr(cause, "__notes__", None)
    if notes:
        text = f"{text} ({notes[0]})"
    return text or type(cause).__name__
