"""Shared pieces of the workflow compiler: node ids, identifier keys and labels, nodes being compiled."""

from __future__ import annotations

import enum

from flyteidl.core import identifier_pb2, interface_pb2
from flyteidl.core.interface_pb2 import TypedInterface
from flyteidl.core.workflow_pb2 import Node

START_NODE = "start-node"
END_NODE = "end-node"
IdKey = tuple[int, str, str, str, str]


def id_key(ident: identifier_pb2.Identifier) -> IdKey:
    """Identifiers ordered as Admin orders its requirements: type, project, domain, name, version."""
    return (ident.resource_type, ident.project, ident.domain, ident.name, ident.version)


def id_label(ident: identifier_pb2.Identifier) -> str:
    """``TASK flytesnacks/development/wf.tasks.double:v1``."""
    kind = identifier_pb2.ResourceType.Name(ident.resource_type)
    return f"{kind} {ident.project}/{ident.domain}/{ident.name}:{ident.version}"


class Edges(enum.Enum):
    BOTH = "both"  # a top-level node: upstream and downstream lists
    UPSTREAM = "upstream"  # a branch child or the failure node: only its own upstream list


class GraphNode:
    """A node being compiled, with the interface computed for it."""

    def __init__(self, proto: Node, iface: TypedInterface | None = None) -> None:
        self.proto = proto
        self.iface = iface
        self.children: list[GraphNode] = []  # a branch node's then/else nodes
        self.inputs_optional = False  # a launch plan's inputs may have defaults the contract doesn't tell

    @property
    def id(self) -> str:
        return self.proto.id


def make_interface(
    inputs: interface_pb2.VariableMap | None = None, outputs: interface_pb2.VariableMap | None = None
) -> TypedInterface:
    """An interface with both variable maps present (Admin's compiler fills in empty ones)."""
    iface = TypedInterface()
    iface.inputs.SetInParent()
    iface.outputs.SetInParent()
    if inputs is not None:
        iface.inputs.CopyFrom(inputs)
    if outputs is not None:
        iface.outputs.CopyFrom(outputs)
    return iface
