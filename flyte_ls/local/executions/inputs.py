"""CreateExecution's inputs: the request's literals checked against a launch plan and merged with its
defaults and fixed inputs (flyteadmin's ``CheckAndFetchInputsForExecution``), and Admin's execution names."""

from __future__ import annotations

import random
import re
import time

from flyteidl.core import interface_pb2, literals_pb2

from flyte_ls.local.errors import InvalidArgument

NAME_RE = re.compile(r"^[a-z][a-z\-0-9]*$")
NAME_MAX = 63
# Admin draws generated names from the Kubernetes "safe" alphabet: no vowels, no 0/1/3.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_rng = random.Random(time.time_ns())


def generate_name() -> str:
    """``"a"`` + 19 random characters (20 in all), like Admin's generated execution names."""
    return "a" + "".join(_rng.choice(_ALPHABET) for _ in range(19))


def validate_name(name: str) -> None:
    if len(name) > NAME_MAX:
        raise InvalidArgument(f"execution name [{name}] is longer than {NAME_MAX} characters")
    if not NAME_RE.match(name):
        raise InvalidArgument(
            f"invalid execution name [{name}]: use lowercase letters, digits and '-', starting with a letter"
        )


def merge_execution_inputs(
    lp_name: str,
    expected: interface_pb2.ParameterMap,
    fixed: literals_pb2.LiteralMap,
    given: literals_pb2.LiteralMap,
) -> literals_pb2.LiteralMap:
    """The inputs an execution runs with: ``given`` + defaults of missing optional inputs + fixed inputs."""
    for name in sorted(given.literals):
        if name in fixed.literals:
            raise InvalidArgument(
                f"invalid input {name}: it is a fixed input of launch plan [{lp_name}], "
                "it cannot be overridden"
            )
        if name not in expected.parameters:
            known = ", ".join(sorted(expected.parameters)) or "none"
            raise InvalidArgument(f"invalid input {name} for launch plan [{lp_name}] (its inputs: {known})")
    merged = literals_pb2.LiteralMap()
    missing = []
    for name, param in sorted(expected.parameters.items()):
        if name in given.literals:
            merged.literals[name].CopyFrom(given.literals[name])
        elif param.HasField("default"):
            merged.literals[name].CopyFrom(param.default)
        else:
            missing.append(name)
    if missing:
        raise InvalidArgument(
            f"expected_inputs {', '.join(missing)} missing: launch plan [{lp_name}] requires "
            f"{'them' if len(missing) > 1 else 'it'} (no default)"
        )
    for name, literal in fixed.literals.items():
        merged.literals[name].CopyFrom(literal)
    return merged
