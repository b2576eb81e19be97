"""Input bindings → literals, and branch conditions, as propeller resolves them (reference §4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flyteidl.core import condition_pb2, literals_pb2, types_pb2


class BindingResolutionFailure(Exception):
    """An input binding could not be resolved (a SYSTEM failure of the node)."""


class BranchEvaluationError(Exception):
    """A branch condition could not be evaluated (e.g. int compared with float)."""


def resolve_bindings(
    bindings: Sequence[literals_pb2.Binding], outputs: Mapping[str, literals_pb2.LiteralMap]
) -> literals_pb2.LiteralMap:
    """The node's inputs from its bindings; ``outputs`` maps a node id of the same workflow (``start-node``
    for the workflow inputs) to its outputs."""
    result = literals_pb2.LiteralMap()
    for binding in bindings:
        result.literals[binding.var].CopyFrom(resolve_binding(binding.binding, outputs))
    return result


def resolve_binding(
    data: literals_pb2.BindingData, outputs: Mapping[str, literals_pb2.LiteralMap]
) -> literals_pb2.Literal:
    kind = data.WhichOneof("value")
    if kind == "scalar":
        return literals_pb2.Literal(scalar=data.scalar)
    if kind == "collection":
        items = [resolve_binding(item, outputs) for item in data.collection.bindings]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    if kind == "map":
        literal = literals_pb2.Literal()
        literal.map.SetInParent()
        for key, item in data.map.bindings.items():
            literal.map.literals[key].CopyFrom(resolve_binding(item, outputs))
        return literal
    if kind == "promise":
        promise = data.promise
        node_id = promise.node_id or "start-node"
        upstream = outputs.get(node_id)
        if upstream is None:
            raise BindingResolutionFailure(f"no outputs of node [{node_id}] to read [{promise.var}] from")
        if promise.var not in upstream.literals:
            raise BindingResolutionFailure(f"node [{node_id}] has no output [{promise.var}]")
        value = upstream.literals[promise.var]
        for step in promise.attr_path:
            value = _step(value, step, f"{node_id}.{promise.var}")
        return value
    if kind == "union":
        return resolve_binding(data.union.value, outputs)
    if kind == "offloaded_metadata":
        raise BindingResolutionFailure("offloaded binding data is not supported yet")
    raise BindingResolutionFailure(f"unknown binding kind [{kind}]")


def _step(value: literals_pb2.Literal, step: types_pb2.PromiseAttribute, where: str) -> literals_pb2.Literal:
    which = step.WhichOneof("value")
    if which == "string_value" and value.HasField("map"):
        if step.string_value not in value.map.literals:
            raise BindingResolutionFailure(f"key [{step.string_value}] not in the map [{where}]")
        return value.map.literals[step.string_value]
    if which == "int_value" and value.HasField("collection"):
        items = value.collection.literals
        if not 0 <= step.int_value < len(items):
            raise BindingResolutionFailure(f"index [{step.int_value}] out of range of [{where}]")
        return items[step.int_value]
    # TODO(executor): msgpack Binary (dataclasses, pydantic) and protobuf Struct attribute paths.
    raise BindingResolutionFailure(
        f"cannot resolve the attribute path step [{getattr(step, which or 'string_value')}] of [{where}] "
        "(dataclass/struct attribute paths are not supported yet)"
    )


def evaluate(expr: condition_pb2.BooleanExpression, inputs: literals_pb2.LiteralMap) -> bool:
    """A branch's ``BooleanExpression`` over the branch node's inputs."""
    if expr.HasField("conjunction"):
        conj = expr.conjunction
        left = evaluate(conj.left_expression, inputs)
        if conj.operator == condition_pb2.ConjunctionExpression.AND:
            return left and evaluate(conj.right_expression, inputs)
        return left or evaluate(conj.right_expression, inputs)
    if expr.HasField("comparison"):
        return _compare(expr.comparison, inputs)
    raise BranchEvaluationError("empty boolean expression")


_NUMERIC_ONLY = frozenset(
    {
        condition_pb2.ComparisonExpression.GT,
        condition_pb2.ComparisonExpression.GTE,
        condition_pb2.ComparisonExpression.LT,
        condition_pb2.ComparisonExpression.LTE,
    }
)


def _compare(cmp: condition_pb2.ComparisonExpression, inputs: literals_pb2.LiteralMap) -> bool:
    left_kind, left = _operand(cmp.left_value, inputs)
    right_kind, right = _operand(cmp.right_value, inputs)
    if "none" in (left_kind, right_kind):
        # propeller compares a None (`is_none()`) with EQ/NEQ only: equal when both sides are None
        both = left_kind == right_kind
        if cmp.operator == condition_pb2.ComparisonExpression.EQ:
            return both
        if cmp.operator == condition_pb2.ComparisonExpression.NEQ:
            return not both
        raise BranchEvaluationError("a None value compares only with EQ/NEQ")
    if left_kind != right_kind:
        raise BranchEvaluationError(f"cannot compare a {left_kind} with a {right_kind}")
    if left_kind == "boolean" and cmp.operator in _NUMERIC_ONLY:
        raise BranchEvaluationError("booleans only compare with EQ/NEQ")
    op = cmp.operator
    ops = condition_pb2.ComparisonExpression
    if op == ops.EQ:
        return bool(left == right)
    if op == ops.NEQ:
        return bool(left != right)
    if op == ops.GT:
        return bool(left > right)
    if op == ops.GTE:
        return bool(left >= right)
    if op == ops.LT:
        return bool(left < right)
    if op == ops.LTE:
        return bool(left <= right)
    raise BranchEvaluationError(f"unknown comparison operator {op}")


def _operand(operand: condition_pb2.Operand, inputs: literals_pb2.LiteralMap) -> tuple[str, Any]:
    which = operand.WhichOneof("val")
    if which == "primitive":
        return _primitive(operand.primitive)
    if which == "var":
        if operand.var not in inputs.literals:
            raise BranchEvaluationError(f"the branch has no input [{operand.var}]")
        literal = inputs.literals[operand.var]
        return _scalar(literal.scalar) if literal.HasField("scalar") else ("non-scalar", None)
    if which == "scalar":
        return _scalar(operand.scalar)
    raise BranchEvaluationError("empty operand")


def _scalar(scalar: literals_pb2.Scalar) -> tuple[str, Any]:
    if scalar.HasField("primitive"):
        return _primitive(scalar.primitive)
    if scalar.HasField("none_type"):
        return "none", None
    if scalar.HasField("union"):
        inner = scalar.union.value
        return _scalar(inner.scalar) if inner.HasField("scalar") else ("non-scalar", None)
    raise BranchEvaluationError(f"cannot compare a {scalar.WhichOneof('value')} value")


def _primitive(p: literals_pb2.Primitive) -> tuple[str, Any]:
    which = p.WhichOneof("value")
    if which == "datetime":
        return which, p.datetime.seconds
    if which == "duration":
        return which, p.duration.seconds
    if which is None:
        raise BranchEvaluationError("empty primitive")
    return which, getattr(p, which)
