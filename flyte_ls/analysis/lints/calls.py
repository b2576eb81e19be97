"""Rules on calls to entities whose signature is known (FL010, FL011, FL014) and on literal defaults (FL014).

A callee is known when it is an entity of this module bound exactly once at module level, or an entity
imported from a sibling module that ``ctx.lookup`` can analyse, and the name is not rebound in the calling
scope.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Iterator

from flyte_ls.analysis.lints import types as ty
from flyte_ls.analysis.lints.base import LintModule, Param, Signature, is_none
from flyte_ls.analysis.model import EntityKind, Finding, Severity


def _describe(p: Param) -> str:
    return f"{p.name}: {p.type}" if p.type else p.name


def check_call(m: LintModule, call: ast.Call, sig: Signature, compiled: bool) -> Iterator[Finding]:
    """FL010 / FL011 / FL014 for one call of a known entity; ``compiled``: in a workflow / dynamic body."""
    if not sig.complete or any(isinstance(a, ast.Starred) for a in call.args):
        return
    if any(kw.arg is None for kw in call.keywords):
        return
    names = [p.name for p in sig.params]
    callee = sig.display
    given: dict[str, ast.expr] = {}
    if len(call.args) > len(sig.params):
        extra = call.args[len(sig.params)]
        yield m.finding(
            "FL010",
            extra,
            f"`{callee}` takes {len(sig.params)} input{'s' if len(sig.params) != 1 else ''} but is given "
            f"{len(call.args)} positional arguments: flytekit fails (Received more arguments than expected) "
            f"— call it with keywords: {callee}({', '.join(f'{n}=...' for n in names) or ''})",
            end_node=call.args[-1],
        )
    for param, arg in zip(sig.params, call.args, strict=False):
        given[param.name] = arg
    for kw in call.keywords:
        assert kw.arg is not None
        if kw.arg not in names:
            close = difflib.get_close_matches(kw.arg, names, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"its inputs are: {', '.join(names) or 'none'}"
            yield m.finding(
                "FL010",
                kw,
                f"`{callee}` has no input `{kw.arg}`: flytekit fails (Received unexpected keyword argument "
                f"'{kw.arg}') — {hint}",
            )
            continue
        if kw.arg in given:
            yield m.finding(
                "FL010",
                kw,
                f"input `{kw.arg}` of `{callee}` is given twice (by position and by keyword): flytekit fails "
                f"(Got multiple values for argument '{kw.arg}') — pass it once, by keyword",
            )
            continue
        given[kw.arg] = kw.value
    yield from _missing_inputs(m, call, sig, given, compiled)
    if sig.mapped:
        return
    for name, value in given.items():
        declared = sig.param(name)
        why = ty.literal_mismatch(declared.type if declared else None, value)
        if why:
            yield m.finding(
                "FL014",
                value,
                f"input `{name}` of `{callee}` is declared {declared.type if declared else '?'} but given "
                f"{why} ({m.text(value)}): flytekit fails (Expected value of type ...) — pass a "
                f"{_want(declared)} literal",
            )


def _missing_inputs(
    m: LintModule, call: ast.Call, sig: Signature, given: dict[str, ast.expr], compiled: bool
) -> Iterator[Finding]:
    """Inputs a call leaves out. In a workflow body flytekit binds the call's inputs
    (``create_and_link_node``); elsewhere the call runs the function locally: only Python's rules apply."""
    callee = sig.display
    for p in sig.params:
        if p.name in given:
            continue
        if not compiled:
            if p.default is None and not sig.mapped:
                yield m.finding(
                    "FL010",
                    call.func,
                    f"`{callee}` is called without its input `{_describe(p)}`, which has no default: the "
                    f"call fails (TypeError: missing 1 required positional argument: '{p.name}') — pass "
                    f"{p.name}=...",
                    end_node=call,
                )
            continue
        if sig.mapped or sig.defaults_ignored or p.required:
            why = (
                " (a map task does not use its task's defaults)"
                if sig.mapped and p.default is not None
                else " (a reference's defaults are not used)"
                if sig.defaults_ignored and p.default is not None
                else ""
            )
            yield m.finding(
                "FL010",
                call.func,
                f"`{callee}` is called without its required input `{_describe(p)}`{why}: flytekit fails "
                f"(Input {p.name} ... was not specified) — pass {p.name}=...",
                end_node=call,
            )
        elif p.default is None and ty.is_optional(p.type) is True:
            yield m.finding(
                "FL010",
                call.func,
                f"`{callee}` is called without `{_describe(p)}`: flytekit compiles it, but every run fails "
                f"(missing 1 required positional argument: '{p.name}') because the input has no default — "
                f"pass {p.name}=... or give it a default (= None)",
                end_node=call,
                severity=Severity.WARNING,
            )
        elif p.default is not None and ty.is_mutable_default(p.default) and sig.kind == EntityKind.TASK:
            yield m.finding(
                "FL011",
                call.func,
                f"`{callee}` is called without `{p.name}`, whose default {p.default} is mutable: flytekit "
                "refuses to use it (mutable default argument ... not supported in flytekit tasks) — pass "
                f"{p.name}=... explicitly, or make the default None",
                end_node=call,
            )


def _want(param: Param | None) -> str:
    s = ty.optional_scalar(param.type if param else None)
    if s is None:
        return "matching"
    return {"float": "float (e.g. 1.0)", "int": "int", "str": "str", "bool": "bool"}[s[0]]


def entity_calls(m: LintModule) -> Iterable[Finding]:
    """FL010 / FL011 / FL014 on every call of a known entity, anywhere in the module."""
    compiled_bodies = m.compiled_bodies
    for call, local in m.scopes.calls:
        func = call.func
        if not isinstance(func, (ast.Name, ast.Attribute, ast.Call)):
            continue
        sig = m.callee(func, local)
        if sig is not None:
            yield from check_call(m, call, sig, id(local.function) in compiled_bodies)


def literal_defaults(m: LintModule) -> Iterable[Finding]:
    """FL014 on defaults: a workflow binds them when compiled; a task's default fails whenever it is used."""
    for d in m.decorated_functions:
        if d.kind not in (EntityKind.TASK, EntityKind.DYNAMIC, EntityKind.WORKFLOW):
            continue
        args = d.node.args
        positional = [*args.posonlyargs, *args.args]
        pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=False))
        pairs += [
            (a, dflt) for a, dflt in zip(args.kwonlyargs, args.kw_defaults, strict=False) if dflt is not None
        ]
        for arg, default in pairs:
            if is_none(default):
                continue  # a None default only fails where a call leaves the input out: FL010 reports that
            why = ty.literal_mismatch(m.text(arg.annotation) if arg.annotation is not None else None, default)
            if not why:
                continue
            if d.kind == EntityKind.WORKFLOW:
                yield m.finding(
                    "FL014",
                    default,
                    f"default of `{arg.arg}` is {why}: serialization fails (Expected value of type ...) — "
                    f"write a {_want(Param(arg.arg, m.text(arg.annotation), None))} literal",
                    entity=d.node.name,
                )
            else:
                yield m.finding(
                    "FL014",
                    default,
                    f"default of `{arg.arg}` is {why}: any call that relies on it fails (Expected value of "
                    f"type ...) — write a {_want(Param(arg.arg, m.text(arg.annotation), None))} literal",
                    entity=d.node.name,
                    severity=Severity.WARNING,
                )


CHECKERS = [entity_calls, literal_defaults]
