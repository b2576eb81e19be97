"""Gate nodes (reference §8): ``sleep``, ``approve`` and ``signal`` (flytekit's ``sleep``, ``approve`` and
``wait_for_input``).

approve/signal gates wait through :class:`~flyte_ls.local.signals.Signals` (the SignalService's store): the
signal row is created unset when the gate is reached, and ``SetSignal`` wakes the gate. The node's
``timeout`` bounds the wait (then a USER failure ``TimeoutExpired``); terminate cancels it. An approve gate
passes its inputs through on ``true`` and fails with ``ReceivedRejectSignal`` on ``false``; a signal gate's
outputs are ``{output_variable_name: value}``.

A gate resumed after a restart (``started_at``: when its node started in the previous life) waits only
the rest of its timeout, and a sleep sleeps only the rest of its duration (propeller measures both from
the start of the node's last attempt, reference §8); a timeout already past still takes a signal that is
already set.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from flyteidl.core import identifier_pb2, literals_pb2, types_pb2, workflow_pb2

from flyte_ls.local.executor.result import USER, NodePhase, NodeResult, failed

BOOLEAN = types_pb2.LiteralType(simple=types_pb2.BOOLEAN)
_LAST_LOOK_S = 0.2


class SignalWaiter(Protocol):
    """What a gate needs of the signals (``flyte_ls.local.signals.Signals``)."""

    async def wait(
        self, ident: identifier_pb2.SignalIdentifier, type_: types_pb2.LiteralType
    ) -> literals_pb2.Literal: ...


async def run_gate(
    node: workflow_pb2.Node,
    unique_id: str,
    inputs: literals_pb2.LiteralMap,
    execution: identifier_pb2.WorkflowExecutionIdentifier,
    signals: SignalWaiter | None,
    started_at: float | None = None,
) -> NodeResult:
    gate = node.gate_node
    kind = gate.WhichOneof("condition")
    timeout_s = (
        node.metadata.timeout.ToTimedelta().total_seconds() if node.metadata.HasField("timeout") else 0
    )
    elapsed = max(0.0, time.time() - started_at) if started_at else 0.0
    if kind == "sleep":
        await asyncio.sleep(max(0.0, gate.sleep.duration.ToTimedelta().total_seconds() - elapsed))
        return NodeResult(NodePhase.SUCCEEDED, outputs=literals_pb2.LiteralMap())
    if kind == "approve":
        signal_id, type_ = gate.approve.signal_id, BOOLEAN
    elif kind == "signal":
        signal_id, type_ = gate.signal.signal_id, gate.signal.type
    else:
        return failed("Unimplemented", f"gate node [{node.id}] has no condition [{kind}]")
    if signals is None:
        return failed(
            "Unimplemented",
            f"gate node [{node.id}] waits for signal [{signal_id}], but this executor has no SignalService "
            "(run the execution through the local backend)",
        )
    ident = identifier_pb2.SignalIdentifier(signal_id=signal_id, execution_id=execution)
    try:
        # at least a moment, so that a signal set while the backend was down is still taken
        wait_s = max(timeout_s - elapsed, _LAST_LOOK_S) if timeout_s else None
        value = await asyncio.wait_for(signals.wait(ident, type_), wait_s)
    except asyncio.TimeoutError:
        return failed(
            "TimeoutExpired",
            f"gate node [{unique_id}] timed out after {timeout_s:g}s waiting for signal [{signal_id}]",
            USER,
        )
    if kind == "approve":
        if value.scalar.primitive.boolean:
            outputs = literals_pb2.LiteralMap()
            outputs.CopyFrom(inputs)
            return NodeResult(NodePhase.SUCCEEDED, outputs=outputs)
        return failed(
            "ReceivedRejectSignal", f"received reject signal [{signal_id}], node [{unique_id}] failed", USER
        )
    outputs = literals_pb2.LiteralMap()
    outputs.literals[gate.signal.output_variable_name].CopyFrom(value)
    return NodeResult(NodePhase.SUCCEEDED, outputs=outputs)
