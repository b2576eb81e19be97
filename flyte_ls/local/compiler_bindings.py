"""Bindings for the workflow compiler: each input's value checked against its type, and the edges it makes.

A mixin of ``WorkflowBuilder`` (flytepropeller's ``validators/bindings.go``): promises are resolved to their
source node (an empty ``node_id`` is ``start-node``), their output variable, index and attribute path, and
every value is checked for castability; unbound required inputs are reported.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from flyteidl.core import interface_pb2, literals_pb2, types_pb2
from flyteidl.core.types_pb2 import LiteralType

from flyte_ls.local.compiler_model import START_NODE, Edges, GraphNode
from flyte_ls.local.compiler_types import castable, is_optional, scalar_type, type_name

if TYPE_CHECKING:
    from flyte_ls.local.compiler import Context

_VAR_NAME = re.compile(r"^(?:\[(\d+)\]\.)?(\w+)$")


class BindingChecker:
    """Binding checks; the builder provides the context, the nodes, the edges and error reporting."""

    ctx: Context
    nodes: dict[str, GraphNode]
    upstream: dict[str, set[str]]

    def error(self, code: str, node_id: str, description: str) -> None:
        raise NotImplementedError

    def add_execution_edge(self, source: str, target: str) -> None:
        raise NotImplementedError

    def bind(
        self,
        node: GraphNode,
        bindings: list[literals_pb2.Binding],
        params: interface_pb2.VariableMap | None,
        edges: Edges,
        *,
        check_types: bool,
    ) -> interface_pb2.VariableMap:
        """Check a node's bindings against its inputs and add their edges; returns the bound variables."""
        resolved = interface_pb2.VariableMap()
        bound: set[str] = set()
        for binding in bindings:
            expected: LiteralType | None = None
            if params is not None and binding.var in params.variables:
                expected = params.variables[binding.var].type
            elif check_types:
                self.error(
                    "VariableNameNotFound",
                    node.id,
                    f"Variable [{binding.var}] not found on node [{node.id}].",
                )
                continue
            if not binding.HasField("binding"):
                self.error("ValueRequired", node.id, f"Value required [{binding.var}.binding].")
                continue
            if binding.var in bound:
                self.error(
                    "ParameterBoundMoreThanOnce", node.id, f"Input [{binding.var}] is bound more than once."
                )
                continue
            bound.add(binding.var)
            ok, found_type, ups = self._bind_data(node, binding.var, binding.binding, expected, check_types)
            if not ok:
                continue
            for up in ups:
                if edges is Edges.BOTH:
                    self.add_execution_edge(up, node.id)
                else:
                    self.upstream.setdefault(node.id, set()).add(up)
            variable = resolved.variables[binding.var]
            if found_type is not None:
                variable.type.CopyFrom(found_type)
        if params is not None and not node.inputs_optional:
            for name in sorted(params.variables):
                if name not in bound and not is_optional(params.variables[name].type):
                    self.error("ParameterNotBound", node.id, f"Parameter not bound [{name}].")
        return resolved

    def _bind_data(
        self,
        node: GraphNode,
        var: str,
        data: literals_pb2.BindingData,
        expected: LiteralType | None,
        check: bool,
    ) -> tuple[bool, LiteralType | None, list[str]]:
        """(ok, the bound value's type, the nodes it reads from) for one binding value, recursively."""
        kind = data.WhichOneof("value")
        if (
            kind in ("collection", "map")
            and expected is not None
            and expected.WhichOneof("type") == "union_type"
        ):
            for variant in expected.union_type.variants:
                before = len(self.ctx.errors.items)
                ok, found, ups = self._bind_data(node, var, data, variant, check)
                del self.ctx.errors.items[before:]  # a variant that doesn't fit is no mistake
                if ok:
                    return True, found, ups
            self.error(
                "IncompatibleBindingUnionValue",
                node.id,
                f"Input [{var}] of type [{type_name(expected)}] fits none of the union's variants.",
            )
            return False, None, []
        if kind == "collection":
            return self._bind_items(
                node, var, list(data.collection.bindings), expected, "collection_type", check
            )
        if kind == "map":
            return self._bind_items(
                node, var, list(data.map.bindings.values()), expected, "map_value_type", check
            )
        if kind == "promise":
            return self._bind_promise(node, var, data.promise, expected, check)
        if kind == "scalar":
            found = scalar_type(data.scalar)
            if found is None:
                self.error("UnrecognizedValue", node.id, f"Unrecognized value for input [{var}].")
                return False, None, []
            if check and expected is not None and not castable(found, expected):
                self.error(
                    "MismatchingTypes",
                    node.id,
                    f"Variable [{var}] (type [{type_name(found)}]) doesn't match expected type "
                    f"[{type_name(expected)}].",
                )
                return False, None, []
            if expected is not None and expected.WhichOneof("type") == "enum_type":
                value = data.scalar.primitive.string_value
                if data.scalar.WhichOneof("value") == "primitive" and value not in expected.enum_type.values:
                    self.error(
                        "IllegalEnumValue",
                        node.id,
                        f"Input [{var}] on node [{node.id}] is an Enum and expects value to be one of "
                        f"[{', '.join(expected.enum_type.values)}]. Received [{value}]",
                    )
                    return False, None, []
            return True, found, []
        self.error("ParameterNotBound", node.id, f"Parameter not bound [{var}].")
        return False, None, []

    def _bind_items(
        self,
        node: GraphNode,
        var: str,
        items: list[literals_pb2.BindingData],
        expected: LiteralType | None,
        field: str,
        check: bool,
    ) -> tuple[bool, LiteralType | None, list[str]]:
        item_type: LiteralType | None = None
        if expected is not None:
            if expected.WhichOneof("type") != field:
                shape = "a list" if field == "collection_type" else "a map"
                self.error(
                    "MismatchingBindings",
                    node.id,
                    f"Input [{var}] on node [{node.id}] expects bindings of type [{type_name(expected)}]. "
                    f"Received {shape}.",
                )
                return False, None, []
            item_type = getattr(expected, field)
        ok, ups, found = True, [], None
        for item in items:
            item_ok, item_found, item_ups = self._bind_data(node, var, item, item_type, check)
            ok = ok and item_ok
            ups += item_ups
            found = item_found or found
        result = LiteralType()
        getattr(result, field).CopyFrom(found or LiteralType(simple=types_pb2.SimpleType.NONE))
        return ok, result, ups

    def _bind_promise(
        self,
        node: GraphNode,
        var: str,
        promise: types_pb2.OutputReference,
        expected: LiteralType | None,
        check: bool,
    ) -> tuple[bool, LiteralType | None, list[str]]:
        source_id = promise.node_id or START_NODE
        source = self.nodes.get(source_id)
        if source is None:
            self.error("NodeReferenceNotFound", node.id, f"Referenced node [{source_id}] not found.")
            return False, None, []
        promise.node_id = source_id
        if source.iface is None:
            return True, None, [source_id]  # the source's own error is reported already
        match = _VAR_NAME.match(promise.var)
        if match is None:
            self.error("SyntaxError", node.id, f"Failed to parse element [{promise.var}].")
            return False, None, []
        name = match.group(2)
        if name not in source.iface.outputs.variables:
            self.error(
                "VariableNameNotFound",
                node.id,
                f"Variable [{name}] not found on node [{source_id}] (read by input [{var}] of [{node.id}]).",
            )
            return False, None, []
        full_type = source.iface.outputs.variables[name].type
        found: LiteralType | None = full_type
        if match.group(1) is not None:
            found = full_type.collection_type if full_type.WhichOneof("type") == "collection_type" else None
        for attr in promise.attr_path:
            ok, found = self._attribute_type(node, promise, found, attr)
            if not ok:
                return False, None, []
        if check and expected is not None and found is not None and not castable(found, expected):
            self.error(
                "MismatchingTypes",
                node.id,
                f"The output variable '{source_id}.{promise.var}' has type [{type_name(found)}], but it's "
                f"assigned to the input variable '{node.id}.{var}' which has type [{type_name(expected)}].",
            )
            return False, None, []
        return True, full_type, [source_id]

    def _attribute_type(
        self,
        node: GraphNode,
        promise: types_pb2.OutputReference,
        current: LiteralType | None,
        attr: types_pb2.PromiseAttribute,
    ) -> tuple[bool, LiteralType | None]:
        """(ok, the type one step down an ``attr_path``: None when unknown, so not checked)."""
        if current is None:
            return True, None
        kind = current.WhichOneof("type")
        if kind == "collection_type":
            return True, current.collection_type
        if kind == "map_value_type":
            return True, current.map_value_type
        fields = current.structure.dataclass_type
        if not fields:
            return True, None
        key = attr.string_value
        if key not in fields:
            self.error(
                "FieldNotFound",
                node.id,
                f"Variable [{promise.var}] (type [{type_name(current)}]) doesn't have field [{key}].",
            )
            return False, None
        return True, fields[key]
