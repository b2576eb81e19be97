"""``flyte://v1/...`` tiny URLs (DataProxyService.GetData) and deck links (CreateDownloadLink), answered from
the AdminService's node and task execution RPCs, as flyteadmin's dataproxy does.

Grammar (flyteadmin/pkg/common/flyte_url.go): ``flyte://v1/[org/<org>/]<project>/<domain>/<exec>/<node>
[/<attempt>]/<i|o|d>[/<name>]``; segments are ``[a-zA-Z0-9_-]+``; ``d`` (deck) takes neither an attempt
nor a name; with an attempt the URL means that task execution.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from flyteidl.admin import node_execution_pb2, task_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import dataproxy_pb2
from google.protobuf import timestamp_pb2

from flyte_ls.local.errors import (
    AdminError,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unimplemented,
)

LINK_EXPIRES_S = 3600
_SEG = r"[a-zA-Z0-9_-]+"
_URL = re.compile(
    rf"^flyte://v1/(?:org/(?P<org>{_SEG})/)?(?P<project>{_SEG})/(?P<domain>{_SEG})/(?P<exec>{_SEG})/"
    rf"(?P<node>{_SEG})(?:/(?P<attempt>[0-9]+))?/(?P<io>[iod])(?:/(?P<name>{_SEG}))?$"
)


@dataclass(frozen=True)
class FlyteUrl:
    node: identifier_pb2.NodeExecutionIdentifier
    attempt: int | None
    io: str  # "i", "o" or "d"
    name: str


def parse(url: str) -> FlyteUrl:
    if not url:
        raise InvalidArgument(
            "failed to validate resolve artifact request: source is required, got an empty url"
        )
    if not url.startswith("flyte://"):
        raise InvalidArgument(
            f"failed to validate resolve artifact request: [{url}] does not start with flyte://"
        )
    m = _URL.match(url)
    if m is None or (m["io"] == "d" and m["name"]):
        raise InvalidArgument(
            f"failed to parse artifact url [{url}]: expected "
            "flyte://v1/<project>/<domain>/<execution>/<node>[/<attempt>]/<i|o|d>[/<name>]"
        )
    execution = identifier_pb2.WorkflowExecutionIdentifier(
        project=m["project"], domain=m["domain"], name=m["exec"], org=m["org"] or ""
    )
    node = identifier_pb2.NodeExecutionIdentifier(node_id=m["node"], execution_id=execution)
    attempt = int(m["attempt"]) if m["attempt"] is not None else None
    if attempt is not None and m["io"] == "d":
        raise InvalidArgument("deck type cannot be specified with a retry attempt, just use the node instead")
    return FlyteUrl(node=node, attempt=attempt, io=m["io"], name=m["name"] or "")


class _Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class _LocalContext:
    """Just enough of a ServicerContext to call another servicer's RPC method in-process."""

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise _Aborted(code, details)

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return True

    def set_code(self, code: grpc.StatusCode) -> None:
        pass

    def set_details(self, details: str) -> None:
        pass


_ERRORS = (NotFound, AlreadyExists, InvalidArgument, FailedPrecondition, ResourceExhausted, Unimplemented)


def call_rpc(servicer: Any, method: str, request: Any) -> Any:
    """Call a servicer's RPC in-process; a failure raises the AdminError with the status it would send."""
    fn = getattr(servicer, method, None) if servicer is not None else None
    if fn is None:
        raise Unimplemented(f"{method} is not available in this backend")
    try:
        return fn(request, _LocalContext())
    except _Aborted as exc:
        cls = next((c for c in _ERRORS if c.code == exc.code), None)
        err = cls(exc.details) if cls is not None else AdminError(exc.details)
        err.code = exc.code
        raise err from None
    except NotImplementedError:  # the generated base class: the RPC is not written yet
        raise Unimplemented(f"{method} is not implemented in this backend yet") from None


class AdminData:
    """Reads node/task execution data and deck URIs through the AdminService servicer (if any)."""

    def __init__(self, admin: Any, file_url: Callable[[str], str | None]) -> None:
        self.admin = admin
        self.file_url = file_url

    def _call(self, method: str, request: Any) -> Any:
        return call_rpc(self.admin, method, request)

    def get_data(self, url: str) -> dataproxy_pb2.GetDataResponse:
        parsed = parse(url)
        if parsed.io == "d":
            link = self.deck_link(parsed.node)
            return dataproxy_pb2.GetDataResponse(pre_signed_urls=link.pre_signed_urls)
        if parsed.attempt is None:
            data = self._call(
                "GetNodeExecutionData", node_execution_pb2.NodeExecutionGetDataRequest(id=parsed.node)
            )
            where = f"node execution [{url}]"
        else:
            listed = self._call(
                "ListTaskExecutions",
                task_execution_pb2.TaskExecutionListRequest(
                    node_execution_id=parsed.node, limit=1, filters=f"eq(retry_attempt,{parsed.attempt})"
                ),
            )
            if not listed.task_executions:
                raise InvalidArgument(
                    f"no task executions were listed for attempt {parsed.attempt} of [{url}]"
                )
            data = self._call(
                "GetTaskExecutionData",
                task_execution_pb2.TaskExecutionGetDataRequest(id=listed.task_executions[0].id),
            )
            where = f"task execution [{url}]"
        lm: literals_pb2.LiteralMap = data.full_inputs if parsed.io == "i" else data.full_outputs
        blob = data.inputs if parsed.io == "i" else data.outputs
        if not lm.literals and blob.bytes > 0:  # too large to be inlined by Get…Data: read the file
            lm = literals_pb2.LiteralMap.FromString(Path(blob.url).read_bytes())
        if parsed.name:
            if parsed.name not in lm.literals:
                raise InvalidArgument(f"name [{parsed.name}] not found in {where}")
            return dataproxy_pb2.GetDataResponse(literal=lm.literals[parsed.name])
        return dataproxy_pb2.GetDataResponse(literal_map=lm)

    def deck_link(
        self, node: identifier_pb2.NodeExecutionIdentifier
    ) -> dataproxy_pb2.CreateDownloadLinkResponse:
        record = self._call("GetNodeExecution", node_execution_pb2.NodeExecutionGetRequest(id=node))
        deck = record.closure.deck_uri
        if not deck:
            raise NotFound(f"node execution [{node.execution_id.name}/{node.node_id}] has no deck")
        url = self.file_url(deck)
        if url is None:
            raise NotFound(
                f"URL [{deck}] does not exist yet. Please try again later. If you are using the real-time "
                "deck, this could be because the 'persist' function has not been called yet."
            )
        expires_at = timestamp_pb2.Timestamp()
        expires_at.FromSeconds(int(time.time()) + LINK_EXPIRES_S)
        links = dataproxy_pb2.PreSignedURLs(signed_url=[url], expires_at=expires_at)
        return dataproxy_pb2.CreateDownloadLinkResponse(
            signed_url=[url], expires_at=expires_at, pre_signed_urls=links
        )
