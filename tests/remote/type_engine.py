"""flytekit's TypeEngine as three plain functions over flyteidl protos, for the tests that compare our
literals with flytekit's (test_literals, test_literals_pydantic). Imports flytekit when called."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flyteidl.core import literals_pb2, types_pb2


def flytekit_type_engine() -> SimpleNamespace:
    """``literal_type(hint)``, ``to_literal(value, hint)`` and ``to_python(literal, hint)`` through flytekit's
    TypeEngine in the current context, with protos in and out."""
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine
    from flytekit.models.literals import Literal as LiteralModel

    ctx = FlyteContextManager.current_context()

    def literal_type(hint: Any) -> types_pb2.LiteralType:
        return TypeEngine.to_literal_type(hint).to_flyte_idl()

    def to_literal(value: Any, hint: Any) -> literals_pb2.Literal:
        return TypeEngine.to_literal(ctx, value, hint, TypeEngine.to_literal_type(hint)).to_flyte_idl()

    def to_python(literal: literals_pb2.Literal, hint: Any) -> Any:
        return TypeEngine.to_python_value(ctx, LiteralModel.from_flyte_idl(literal), hint)

    return SimpleNamespace(literal_type=literal_type, to_literal=to_literal, to_python=to_python)
