"""Rules on entity definitions: annotations, returns, decorator arguments, cache, nesting (FL001-FL009)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from flyte_ls.analysis.lints import types as ty
from flyte_ls.analysis.lints.base import (
    CACHE,
    DYNAMIC,
    EAGER,
    TASK,
    WORKFLOW,
    Decorated,
    FunctionNode,
    LintModule,
    call_keyword,
    is_none,
)
from flyte_ls.analysis.model import EntityKind, Finding, Severity

# The keyword arguments flytekit 1.16's decorators accept (tests compare these with inspect.signature).
TASK_ARGUMENTS = frozenset(
    {
        "_task_function",
        "task_config",
        "cache",
        "retries",
        "interruptible",
        "deprecated",
        "timeout",
        "container_image",
        "environment",
        "requests",
        "limits",
        "secret_requests",
        "execution_mode",
        "node_dependency_hints",
        "task_resolver",
        "docs",
        "disable_deck",
        "enable_deck",
        "deck_fields",
        "pod_template",
        "pod_template_name",
        "accelerator",
        "pickle_untyped",
        "shared_memory",
        "resources",
        "labels",
        "annotations",
        # still accepted through **kwargs for backwards compatibility
        "cache_serialize",
        "cache_version",
        "cache_ignore_input_vars",
    }
)
WORKFLOW_ARGUMENTS = frozenset(
    {
        "_workflow_function",
        "failure_policy",
        "interruptible",
        "on_failure",
        "docs",
        "pickle_untyped",
        "default_options",
    }
)

_ANNOTATED_KINDS = frozenset(
    {
        EntityKind.TASK,
        EntityKind.DYNAMIC,
        EntityKind.EAGER,
        EntityKind.WORKFLOW,
        EntityKind.REFERENCE_TASK,
        EntityKind.REFERENCE_WORKFLOW,
    }
)
_RUNNABLE_KINDS = frozenset({EntityKind.TASK, EntityKind.DYNAMIC, EntityKind.EAGER, EntityKind.WORKFLOW})


def _label(d: Decorated) -> str:
    return {
        EntityKind.TASK: "task",
        EntityKind.DYNAMIC: "dynamic workflow",
        EntityKind.EAGER: "eager workflow",
        EntityKind.WORKFLOW: "workflow",
        EntityKind.REFERENCE_TASK: "reference task",
        EntityKind.REFERENCE_WORKFLOW: "reference workflow",
    }.get(d.kind, "entity")


# A line that returns a value or yields; a cheap first look before walking the function's nodes.
_TUPLE_RETURN = re.compile(r"^\s*return\b.*,", re.MULTILINE)  # maybe `return a, b`
_VALUE_RETURN = re.compile(r"^\s*(?:return\s+(?!None\s*(?:#|$))\S|.*\byield\b)", re.MULTILINE)


def _returns_value(m: LintModule, fn: FunctionNode, source: str) -> bool:
    """Whether the function returns a value somewhere (a nested function's return may make this say yes: the
    rule then stays quiet, it never flags a function that returns a value)."""
    if _VALUE_RETURN.search(source):
        return True
    return any(
        (isinstance(n, ast.Return) and n.value is not None and not is_none(n.value))
        or isinstance(n, (ast.Yield, ast.YieldFrom))
        for n in m.own_nodes(fn)
    )


def _declares_output(m: LintModule, fn: FunctionNode) -> bool:
    ann = fn.returns
    if ann is None or is_none(ann):
        return False
    text = m.text(ann)
    return ty.is_optional(text) is not True and "None" not in text


def missing_annotations(m: LintModule) -> Iterable[Finding]:
    """FL001: every input of a task / workflow needs a type annotation."""
    for d in m.decorated_functions:
        if d.kind not in _ANNOTATED_KINDS:
            continue
        if d.call is not None:
            pickle = call_keyword(d.call, "pickle_untyped")
            if pickle is not None and not (isinstance(pickle, ast.Constant) and pickle.value is False):
                continue
        args = d.node.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        params += [a for a in (args.vararg, args.kwarg) if a is not None]
        for arg in params:
            if arg.annotation is None:
                yield m.finding(
                    "FL001",
                    arg,
                    f"input `{arg.arg}` of {_label(d)} `{d.node.name}` has no type annotation: flytekit "
                    f"refuses it at import (FlyteMissingTypeException) — annotate it, e.g. `{arg.arg}: int`",
                    entity=d.node.name,
                )


def missing_returns(m: LintModule) -> Iterable[Finding]:
    """FL002: a declared output needs a returned value (FL003, the converse, is in the promise checker)."""
    for d in m.decorated_functions:
        fn = d.node
        if d.kind in _RUNNABLE_KINDS or d.kind == EntityKind.REFERENCE_WORKFLOW:
            if _declares_output(m, fn):
                source = m.function_source(fn)
                assert fn.returns is not None
                if "return" not in source and "yield" not in source:
                    yield m.finding(
                        "FL002",
                        fn.returns,
                        f"{_label(d)} `{fn.name}` declares an output (-> {m.text(fn.returns)}) but has no "
                        "return statement: flytekit refuses it at import (FlyteMissingReturnValueException) "
                        "— return a value or remove the return annotation",
                        entity=fn.name,
                    )
                elif d.kind in _RUNNABLE_KINDS and not _returns_value(m, fn, source):
                    when = "serialization fails" if d.kind == EntityKind.WORKFLOW else "every run fails"
                    yield m.finding(
                        "FL002",
                        fn.returns,
                        f"{_label(d)} `{fn.name}` declares an output (-> {m.text(fn.returns)}) but never "
                        f"returns a value: {when} (Python value cannot be None) — return the value or remove "
                        "the return annotation",
                        entity=fn.name,
                    )


def decorator_arguments(m: LintModule) -> Iterable[Finding]:
    """FL004: keyword arguments the decorator does not take."""
    for d in m.decorated_functions:
        if d.call is None:
            continue
        if d.qualified in (TASK, DYNAMIC):
            allowed, what = TASK_ARGUMENTS, "ValueError: Unrecognized argument(s) for task"
        elif d.qualified == WORKFLOW:
            allowed, what = WORKFLOW_ARGUMENTS, "TypeError: workflow() got an unexpected keyword argument"
        else:
            continue
        for kw in d.call.keywords:
            if kw.arg is None or kw.arg in allowed:
                continue
            hint = _suggest(kw.arg, allowed)
            yield m.finding(
                "FL004",
                kw,
                f"@{d.qualified.rsplit('.', 1)[1]} takes no argument `{kw.arg}`: flytekit fails at import "
                f"({what}) — {hint}",
                entity=d.node.name,
            )


_ALIASES = {
    "retry": "retries",
    "cpu": "requests=Resources(cpu=...)",
    "memory": "requests=Resources(mem=...)",
    "mem": "requests=Resources(mem=...)",
    "gpu": "requests=Resources(gpu=...)",
    "image": "container_image",
    "env": "environment",
    "name": "a different function name (the task name is <module>.<function>)",
    "secrets": "secret_requests",
    "version": "cache_version",
    "template": "pod_template",
}


def _suggest(arg: str, allowed: frozenset[str]) -> str:
    if arg in _ALIASES:
        return f"did you mean {_ALIASES[arg]}?"
    import difflib

    close = difflib.get_close_matches(arg, sorted(a for a in allowed if not a.startswith("_")), n=1)
    return f"did you mean `{close[0]}`?" if close else "remove it"


def cache_settings(m: LintModule) -> Iterable[Finding]:
    """FL005: cache=True needs a version (vanilla flytekit has no default cache policies), and friends."""
    for d in m.decorated_functions:
        if d.call is None or d.qualified not in (TASK, DYNAMIC):
            continue
        cache = call_keyword(d.call, "cache")
        legacy = {
            name: value
            for name in ("cache_version", "cache_serialize", "cache_ignore_input_vars")
            if (value := call_keyword(d.call, name)) is not None and not is_none(value)
        }
        name = d.node.name
        if isinstance(cache, ast.Constant) and cache.value is True and "cache_version" not in legacy:
            yield m.finding(
                "FL005",
                cache,
                "`cache=True` without `cache_version`: flytekit fails at import (If version is not defined "
                "then at least one cache policy needs to be set) unless an installed plugin provides default "
                'cache policies — add cache_version="1" or use cache=Cache(version="1")',
                entity=name,
                severity=Severity.WARNING,
            )
        elif isinstance(cache, ast.Call) and m.qualified_or_none(cache.func) == CACHE:
            if legacy:
                yield m.finding(
                    "FL005",
                    cache,
                    f"`cache=Cache(...)` together with {', '.join(sorted(legacy))}: flytekit fails at import "
                    "(cache_serialize, cache_version, and cache_ignore_input_vars are deprecated) — move "
                    "them into Cache(version=..., serialize=..., ignored_inputs=...)",
                    entity=name,
                )
            elif _cache_has_no_version(cache):
                yield m.finding(
                    "FL005",
                    cache,
                    "`Cache()` without a version or policies: flytekit fails at import (If version is not "
                    "defined then at least one cache policy needs to be set) unless an installed plugin "
                    'provides default cache policies — pass Cache(version="1")',
                    entity=name,
                    severity=Severity.WARNING,
                )
        serialize = legacy.get("cache_serialize")
        cache_off = cache is None or (isinstance(cache, ast.Constant) and cache.value is False)
        if isinstance(serialize, ast.Constant) and serialize.value is True and cache_off:
            yield m.finding(
                "FL005",
                serialize,
                "`cache_serialize=True` without `cache=True`: flytekit fails at import (Cache serialize is "
                "enabled but cache is not enabled) — add cache=True and cache_version, or drop "
                "cache_serialize",
                entity=name,
            )


def _cache_has_no_version(call: ast.Call) -> bool:
    if any(kw.arg is None for kw in call.keywords) or any(isinstance(a, ast.Starred) for a in call.args):
        return False
    version = call_keyword(call, "version", 0)
    policies = call_keyword(call, "policies", 4)
    return (version is None or is_none(version)) and (policies is None or is_none(policies))


def nested_entities(m: LintModule) -> Iterable[Finding]:
    """FL006: tasks must be module-level functions (test modules are exempt, as in flytekit)."""
    module = m.module
    last = module.rsplit(".", 1)[-1]
    if not module or last.startswith("test_") or last.endswith("_test"):
        return
    for node, outer in m.scopes.nested:
        d = m.decorated(node)
        if d is not None and d.qualified in (TASK, DYNAMIC, EAGER):
            yield m.finding(
                "FL006",
                node,
                f"`{node.name}` is a {_label(d)} defined inside `{outer}`: flytekit refuses it when "
                f"`{outer}` runs (TaskFunction cannot be a nested/inner or local function) — move it to "
                "module level",
            )


def parameter_kinds(m: LintModule) -> Iterable[Finding]:
    """FL007: positional-only parameters, and *args on a workflow."""
    for d in m.decorated_functions:
        if d.kind not in (EntityKind.TASK, EntityKind.DYNAMIC, EntityKind.WORKFLOW):
            continue
        args = d.node.args
        for arg in args.posonlyargs:
            when = "serialization fails" if d.kind == EntityKind.WORKFLOW else "every run fails"
            yield m.finding(
                "FL007",
                arg,
                f"`{arg.arg}` is positional-only but flytekit passes inputs by keyword: {when} (TypeError: "
                "got some positional-only arguments passed as keyword arguments) — remove the `/`",
                entity=d.node.name,
            )
        if d.kind == EntityKind.WORKFLOW and args.vararg is not None:
            yield m.finding(
                "FL007",
                args.vararg,
                f"workflow `{d.node.name}` takes *{args.vararg.arg}: serialization fails (TypeError: "
                f"unexpected keyword argument '{args.vararg.arg}') — declare each input as a named, typed "
                "parameter",
                entity=d.node.name,
            )


def output_counts(m: LintModule) -> Iterable[Finding]:
    """FL008: a literal tuple returned where the annotation declares another number of outputs."""
    for d in m.decorated_functions:
        if d.kind not in (EntityKind.TASK, EntityKind.DYNAMIC, EntityKind.WORKFLOW):
            continue
        arity = ty.tuple_arity(d.node.returns, m.namedtuples)
        if arity is None or not _TUPLE_RETURN.search(m.function_source(d.node)):
            continue
        for node in m.own_nodes(d.node):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
                if any(isinstance(e, ast.Starred) for e in node.value.elts):
                    continue
                got = len(node.value.elts)
                if got != arity:
                    when = "serialization fails" if d.kind == EntityKind.WORKFLOW else "the run fails"
                    yield m.finding(
                        "FL008",
                        node.value,
                        f"`{d.node.name}` returns {got} values but declares {arity} "
                        f"output{'s' if arity != 1 else ''} (-> {m.text(d.node.returns)}): {when} — make the "
                        "return annotation and the returned values agree",
                        entity=d.node.name,
                    )


def async_and_generators(m: LintModule) -> Iterable[Finding]:
    """FL009: async workflows; generator tasks whose declared output is a plain value."""
    for d in m.decorated_functions:
        fn = d.node
        if d.kind == EntityKind.WORKFLOW and isinstance(fn, ast.AsyncFunctionDef):
            yield m.finding(
                "FL009",
                fn,
                f"workflow `{fn.name}` is async: its body gives a coroutine, not promises, and serialization "
                "fails (Failed to bind output ... coroutine) — make it a plain `def`, or use @eager for "
                "async code",
                entity=fn.name,
            )
        if d.kind in (EntityKind.TASK, EntityKind.DYNAMIC) and isinstance(fn, ast.FunctionDef):
            if (
                ty.head(fn.returns) in ty.PLAIN_HEADS
                and "yield" in m.function_source(fn)
                and any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in m.own_nodes(fn))
            ):
                assert fn.returns is not None
                yield m.finding(
                    "FL009",
                    fn.returns,
                    f"task `{fn.name}` is a generator (it yields) but declares -> {m.text(fn.returns)}: "
                    "every run fails (Failed to convert type <class 'generator'>) — return the value, or "
                    "declare an Iterator",
                    entity=fn.name,
                    severity=Severity.ERROR,
                )


CHECKERS = [
    missing_annotations,
    missing_returns,
    decorator_arguments,
    cache_settings,
    nested_entities,
    parameter_kinds,
    output_counts,
    async_and_generators,
]
