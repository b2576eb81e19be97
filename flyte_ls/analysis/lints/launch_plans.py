"""Launch plan rules (FL040-FL042) and literal types of their inputs (FL014)."""

from __future__ import annotations

import ast
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass

from flyte_ls.analysis.lints import types as ty
from flyte_ls.analysis.lints.base import (
    LP_CREATE,
    LP_GET_OR_CREATE,
    LintModule,
    Signature,
    call_keyword,
    is_none,
    literal_dict_keys,
)
from flyte_ls.analysis.lints.scopes import MODULE
from flyte_ls.analysis.model import EntityKind, Finding

# get_or_create arguments that make flytekit insist on a name (auto_activate and concurrency do not).
_NEEDS_NAME = (
    "default_inputs",
    "fixed_inputs",
    "schedule",
    "notifications",
    "labels",
    "annotations",
    "raw_output_data_config",
    "auth_role",
    "max_parallelism",
    "security_context",
    "trigger",
    "overwrite_cache",
)
# get_or_create(workflow, name, default_inputs, fixed_inputs, schedule, notifications, labels, annotations,
#               raw_output_data_config, max_parallelism, security_context, auth_role, trigger,
#               overwrite_cache, ...)
_GET_OR_CREATE_POSITIONS = {
    "workflow": 0,
    "name": 1,
    "default_inputs": 2,
    "fixed_inputs": 3,
    "schedule": 4,
    "notifications": 5,
    "labels": 6,
    "annotations": 7,
    "raw_output_data_config": 8,
    "max_parallelism": 9,
    "security_context": 10,
    "auth_role": 11,
    "trigger": 12,
    "overwrite_cache": 13,
}
_CREATE_POSITIONS = {"name": 0, "workflow": 1, "default_inputs": 2, "fixed_inputs": 3}


@dataclass
class LaunchPlanCall:
    call: ast.Call
    qualified: str
    local: Container[str]

    def arg(self, name: str) -> ast.expr | None:
        positions = _GET_OR_CREATE_POSITIONS if self.qualified == LP_GET_OR_CREATE else _CREATE_POSITIONS
        return call_keyword(self.call, name, positions.get(name))

    def name(self) -> str | None:
        node = self.arg("name")
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def launch_plan_calls(m: LintModule) -> Iterator[LaunchPlanCall]:
    for call, local in m.scoped_calls:
        q = m.qualified_or_none(call.func)
        if q in (LP_GET_OR_CREATE, LP_CREATE):
            yield LaunchPlanCall(call, q, local)


def _workflow(m: LintModule, lp: LaunchPlanCall) -> Signature | None:
    wf = lp.arg("workflow")
    if wf is None:
        return None
    sig = m.callee(wf, lp.local)
    return sig if sig is not None and sig.kind == EntityKind.WORKFLOW and sig.complete else None


def launch_plan_inputs(m: LintModule) -> Iterable[Finding]:
    """FL040: fixed/default inputs must be workflow inputs; FL014: their literal values must fit the type."""
    for lp in launch_plan_calls(m):
        wf = _workflow(m, lp)
        if wf is None:
            continue
        names = [p.name for p in wf.params]
        for key in ("default_inputs", "fixed_inputs"):
            value = lp.arg(key)
            if value is None or not isinstance(value, ast.Dict):
                continue
            for k, v in zip(value.keys, value.values, strict=False):
                if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                    continue
                param = wf.param(k.value)
                if param is None:
                    fails = (
                        "AssertionError: Received unexpected keyword argument"
                        if key == "fixed_inputs"
                        else "KeyError"
                    )
                    yield m.finding(
                        "FL040",
                        k,
                        f"{key} names `{k.value}`, but workflow `{wf.display}` has no such input (its "
                        f"inputs: {', '.join(names) or 'none'}): flytekit fails at import ({fails}) — use "
                        "one of its input names",
                    )
                    continue
                why = ty.literal_mismatch(param.type, v)
                if why:
                    yield m.finding(
                        "FL014",
                        v,
                        f"{key}[{k.value!r}] is {why} (the input is declared {param.type}): flytekit fails "
                        "at import (Expected value of type ...) — write a literal of the declared type",
                    )


def unnamed_launch_plans(m: LintModule) -> Iterable[Finding]:
    """FL041: get_or_create without a name makes the default launch plan, which takes no settings."""
    for lp in launch_plan_calls(m):
        if lp.qualified != LP_GET_OR_CREATE or any(isinstance(a, ast.Starred) for a in lp.call.args):
            continue
        if any(kw.arg is None for kw in lp.call.keywords):
            continue
        name = lp.arg("name")
        if name is not None and not is_none(name):
            continue
        settings = [k for k in _NEEDS_NAME if (v := lp.arg(k)) is not None and not is_none(v)]
        if settings:
            yield m.finding(
                "FL041",
                lp.call,
                f"LaunchPlan.get_or_create without a name but with {', '.join(settings)}: flytekit fails at "
                "import "
                '(Only named launchplans can be created that have other properties) — add name="..."',
            )


def _inputs(lp: LaunchPlanCall) -> dict[str, object] | None:
    merged: dict[str, object] = {}
    for key in ("default_inputs", "fixed_inputs"):
        node = lp.arg(key)
        if node is None or is_none(node):
            continue
        keys = literal_dict_keys(node)
        if keys is None:
            return None
        for k, v in keys.items():
            try:
                merged[k] = ast.literal_eval(v)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return None
    return merged


def duplicate_launch_plans(m: LintModule) -> Iterable[Finding]:
    """FL042: launch plan names are unique per process; get_or_create only reuses an identical one."""
    seen: dict[str, LaunchPlanCall] = {}
    for stmt in m.ctx.tree.body:
        call = m.value_call(stmt)
        if call is None:
            continue
        q = m.qualified_or_none(call.func)
        if q not in (LP_GET_OR_CREATE, LP_CREATE):
            continue
        lp = LaunchPlanCall(call, q, MODULE)
        name = lp.name()
        if name is None:
            continue
        first = seen.get(name)
        if first is None:
            seen[name] = lp
            continue
        line = first.call.lineno
        why = None
        if lp.qualified == LP_CREATE:
            why = "LaunchPlan.create refuses an existing name (Launch plan named ... was already created!)"
        else:
            wf_a, wf_b = first.arg("workflow"), lp.arg("workflow")
            if wf_a is not None and wf_b is not None and ast.dump(wf_a) != ast.dump(wf_b):
                why = "they are for different workflows (Trying to create two launch plans both named ...)"
            else:
                a, b = _inputs(first), _inputs(lp)
                if a is not None and b is not None and a != b:
                    why = "their inputs differ (... but with different values for 'default_inputs')"
        if why:
            yield m.finding(
                "FL042",
                lp.arg("name") or call,
                f"a launch plan named {name!r} already exists (line {line}) and {why}: flytekit fails at "
                "import (AssertionError) — give each launch plan its own name",
            )


CHECKERS = [launch_plan_inputs, unnamed_launch_plans, duplicate_launch_plans]
