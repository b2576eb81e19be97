"""Signals of gate nodes (reference §8): the ``signals`` table of the Store, the SignalService over it, and
the wake-up of the gates that wait for them.

One source of truth: a gate node calls :meth:`Signals.wait`, which creates its signal row unset (what
propeller's ``GetOrCreateSignal`` does) and sleeps on a future; ``SetSignal`` writes the value into the row
and resolves the futures of every gate waiting for that signal — no polling. The gRPC servicer and
the executor share one :class:`Signals` per Store (:func:`signals_for`).

Differences from Admin, on purpose:

- ``SetSignal`` before the gate is reached is accepted when the execution's workflow has a gate with that
  signal id (its type comes from the gate): flyte-ls users approve from the editor as soon as they see the
  execution, and a gate whose signal is already set passes at once. Admin answers INVALID_ARGUMENT. A signal
  id no gate of the execution's (static) workflow declares is still INVALID_ARGUMENT.
- The value must match the signal's type (a lenient check of the kind of value, like CreateExecution's).
- ``GetOrCreateSignal`` for an execution that does not exist is NOT_FOUND (Admin would store the row).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Iterator

import grpc
from flyteidl.admin import signal_pb2
from flyteidl.core import compiler_pb2, identifier_pb2, literals_pb2, types_pb2, workflow_pb2
from flyteidl.service import signal_pb2_grpc

from flyte_ls.local import listing
from flyte_ls.local.errors import InvalidArgument, NotFound, rpc
from flyte_ls.local.executions.inputs import type_mismatch
from flyte_ls.local.executions.records import ExecutionRecords
from flyte_ls.local.store import SignalRow, Store

BOOLEAN = types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
SIGNAL_COLUMNS: dict[str, listing.Column] = {
    "signal_id": listing.Column("signal_id"),
    "created_at": listing.Column("created_at", listing.timestamp),
    "updated_at": listing.Column("updated_at", listing.timestamp),
}
_Key = tuple[str, str, str, str]


def _key(ident: identifier_pb2.SignalIdentifier) -> _Key:
    e = ident.execution_id
    return (e.project, e.domain, e.name, ident.signal_id)


def _id_str(ident: identifier_pb2.SignalIdentifier) -> str:
    e = ident.execution_id
    return f"{ident.signal_id} of execution {e.project}/{e.domain}/{e.name}"


def signal_from_row(row: SignalRow) -> signal_pb2.Signal:
    signal = signal_pb2.Signal(
        id=identifier_pb2.SignalIdentifier(
            signal_id=row.signal_id,
            execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                project=row.project, domain=row.domain, name=row.execution
            ),
        ),
        type=types_pb2.LiteralType.FromString(row.type),
    )
    if row.value is not None:
        signal.value.CopyFrom(literals_pb2.Literal.FromString(row.value))
    return signal


def _validate_id(ident: identifier_pb2.SignalIdentifier) -> None:
    if not ident.signal_id:
        raise InvalidArgument("missing signal_id in the signal identifier")
    e = ident.execution_id
    for field in ("project", "domain", "name"):
        if not getattr(e, field):
            raise InvalidArgument(f"missing {field} in the execution of signal [{ident.signal_id}]")


def gate_signal_types(closure: compiler_pb2.CompiledWorkflowClosure) -> dict[str, types_pb2.LiteralType]:
    """signal id → type of every approve/signal gate of a compiled workflow (and its subworkflows)."""
    found: dict[str, types_pb2.LiteralType] = {}
    workflows = [closure.primary, *closure.sub_workflows]
    for node in (n for wf in workflows for n in _walk(wf.template.nodes)):
        gate = node.gate_node
        if gate.HasField("approve"):
            found.setdefault(gate.approve.signal_id, BOOLEAN)
        elif gate.HasField("signal"):
            found.setdefault(gate.signal.signal_id, gate.signal.type)
    return found


def _walk(nodes: object) -> Iterator[workflow_pb2.Node]:
    for node in nodes:  # type: ignore[attr-defined]
        yield node
        if node.HasField("branch_node"):
            if_else = node.branch_node.if_else
            inner = [case.then_node for case in [if_else.case, *if_else.other]]
            if if_else.HasField("else_node"):
                inner.append(if_else.else_node)
            yield from _walk(inner)
        elif node.HasField("array_node"):
            yield from _walk([node.array_node.node])


class Signals:
    """The signals of one Store, and the gates waiting for them. Thread-safe; :meth:`wait` runs on an event
    loop, everything else anywhere."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.records = ExecutionRecords(store)
        self._lock = threading.Lock()
        self._waiters: dict[_Key, list[asyncio.Future[literals_pb2.Literal]]] = {}

    def get_or_create(
        self, ident: identifier_pb2.SignalIdentifier, type_: types_pb2.LiteralType
    ) -> signal_pb2.Signal:
        _validate_id(ident)
        if not type_.WhichOneof("type"):
            raise InvalidArgument(f"missing type of signal [{_id_str(ident)}]")
        e = ident.execution_id
        if self.store.get_execution(e.project, e.domain, e.name) is None:
            raise NotFound(
                f"execution [{e.project}/{e.domain}/{e.name}] of signal [{ident.signal_id}] does not exist"
            )
        row = self.store.get_or_create_signal(
            e.project, e.domain, e.name, ident.signal_id, type_.SerializeToString(deterministic=True)
        )
        return signal_from_row(row)

    def set(self, ident: identifier_pb2.SignalIdentifier, value: literals_pb2.Literal) -> None:
        """Set a signal's value and wake the gates waiting for it (see the module doc for an early set)."""
        _validate_id(ident)
        if not value.WhichOneof("value"):
            raise InvalidArgument(f"missing value for signal [{_id_str(ident)}]")
        e = ident.execution_id
        row = self.store.get_signal(e.project, e.domain, e.name, ident.signal_id)
        if row is not None:
            type_ = types_pb2.LiteralType.FromString(row.type)
        else:
            type_ = self._declared_type(ident)
        why = type_mismatch(value, type_)
        if why:
            raise InvalidArgument(f"invalid value for signal [{_id_str(ident)}]: {why}")
        self.store.set_signal(
            e.project,
            e.domain,
            e.name,
            ident.signal_id,
            type_.SerializeToString(deterministic=True),
            value.SerializeToString(deterministic=True),
        )
        with self._lock:
            waiting = list(self._waiters.get(_key(ident), ()))
        for future in waiting:
            future.get_loop().call_soon_threadsafe(_resolve, future, value)

    def _declared_type(self, ident: identifier_pb2.SignalIdentifier) -> types_pb2.LiteralType:
        try:
            closure = self.records.compiled_workflow(ident.execution_id)
        except NotFound as exc:
            raise InvalidArgument(
                f"failed to validate that signal [{_id_str(ident)}] exists: {exc}"
            ) from None
        declared = gate_signal_types(closure).get(ident.signal_id)
        if declared is None:
            raise InvalidArgument(
                f"failed to validate that signal [{_id_str(ident)}] exists: the execution has no gate "
                "with this signal id (list its signals with ListSignals)"
            )
        return declared

    def list_signals(self, request: signal_pb2.SignalListRequest) -> signal_pb2.SignalList:
        e = request.workflow_execution_id
        for field in ("project", "domain", "name"):
            if not getattr(e, field):
                raise InvalidArgument(f"missing {field} in workflow_execution_id")
        has_sort = request.HasField("sort_by")
        page = listing.build_page(
            filters=request.filters,
            sort_key=request.sort_by.key if has_sort else "",
            sort_direction=request.sort_by.direction if has_sort else listing.DESCENDING,
            limit=request.limit,
            token=request.token,
            columns=SIGNAL_COLUMNS,
            entity="signal",
        )
        rows = self.store.list_signals(e.project, e.domain, e.name, page)
        return signal_pb2.SignalList(
            signals=[signal_from_row(r) for r in rows], token=listing.next_token(page, rows)
        )

    async def wait(
        self, ident: identifier_pb2.SignalIdentifier, type_: types_pb2.LiteralType
    ) -> literals_pb2.Literal:
        """The signal's value: at once when it is set, else when :meth:`set` sets it. The row is created
        (unset) first, so ListSignals shows the gate waiting. Cancel to stop waiting."""
        key = _key(ident)
        future: asyncio.Future[literals_pb2.Literal] = asyncio.get_running_loop().create_future()
        with self._lock:  # registered before the row is read: a concurrent set cannot be missed
            self._waiters.setdefault(key, []).append(future)
        try:
            signal = self.get_or_create(ident, type_)
            if signal.HasField("value"):
                return signal.value
            return await future
        finally:
            with self._lock:
                waiting = self._waiters.get(key, [])
                if future in waiting:
                    waiting.remove(future)
                if not waiting:
                    self._waiters.pop(key, None)

    def waiting(self) -> int:
        """How many gates wait right now (for tests and status)."""
        with self._lock:
            return sum(len(v) for v in self._waiters.values())


def _resolve(future: asyncio.Future[literals_pb2.Literal], value: literals_pb2.Literal) -> None:
    if not future.done():
        future.set_result(value)


_BY_STORE: weakref.WeakKeyDictionary[Store, Signals] = weakref.WeakKeyDictionary()
_BY_STORE_LOCK = threading.Lock()


def signals_for(store: Store) -> Signals:
    """The one :class:`Signals` of ``store`` (shared by the SignalService and the executor)."""
    with _BY_STORE_LOCK:
        signals = _BY_STORE.get(store)
        if signals is None:
            signals = _BY_STORE[store] = Signals(store)
        return signals


class SignalServicer(signal_pb2_grpc.SignalServiceServicer):
    """flyteidl's SignalService: GetOrCreateSignal, ListSignals, SetSignal."""

    def __init__(self, store: Store) -> None:
        self.signals = signals_for(store)

    @rpc
    def GetOrCreateSignal(
        self, request: signal_pb2.SignalGetOrCreateRequest, context: grpc.ServicerContext
    ) -> signal_pb2.Signal:
        return self.signals.get_or_create(request.id, request.type)

    @rpc
    def ListSignals(
        self, request: signal_pb2.SignalListRequest, context: grpc.ServicerContext
    ) -> signal_pb2.SignalList:
        return self.signals.list_signals(request)

    @rpc
    def SetSignal(
        self, request: signal_pb2.SignalSetRequest, context: grpc.ServicerContext
    ) -> signal_pb2.SignalSetResponse:
        self.signals.set(request.id, request.value)
        return signal_pb2.SignalSetResponse()
