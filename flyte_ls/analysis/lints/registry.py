"""The rule table: every lint code, its default severity, and what flytekit does with the flagged code.

Codes are stable: a code is never reused for another rule. Each entry names *how flytekit fails* — every rule
is backed by a test in ``tests/lints/`` that runs real flytekit on the flagged code and sees that failure.
Checkers (the functions that find problems) live in the family modules; one checker may emit several codes.
"""

from __future__ import annotations

from dataclasses import dataclass

from flyte_ls.analysis.model import Severity

E = Severity.ERROR
W = Severity.WARNING


@dataclass(frozen=True)
class RuleInfo:
    code: str
    name: str
    severity: Severity  # default severity (a finding in code that may not run is downgraded to a warning)
    summary: str  # what the rule flags
    failure: str  # how flytekit fails on it


RULES: tuple[RuleInfo, ...] = (
    # -- entity definitions ----------------------------------------------------------------------------------
    RuleInfo(
        "FL001",
        "missing-input-annotation",
        E,
        "a task, workflow, dynamic or eager input has no type annotation",
        "import: FlyteMissingTypeException ('x' has no type)",
    ),
    RuleInfo(
        "FL002",
        "missing-return-value",
        E,
        "declares an output but never returns a value",
        "import: FlyteMissingReturnValueException (no `return` in the source); otherwise serialization "
        "(workflow) or the run (task) fails: Python value cannot be None",
    ),
    RuleInfo(
        "FL003",
        "undeclared-workflow-output",
        W,
        "a workflow returns a value but declares no output",
        "local run: FlyteValueException (Interface output should've been VoidPromise or None); the value is "
        "dropped on a cluster",
    ),
    RuleInfo(
        "FL004",
        "unknown-decorator-argument",
        E,
        "@task / @dynamic / @workflow called with an argument it does not take",
        "import: ValueError (Unrecognized argument(s) for task) / TypeError (workflow)",
    ),
    RuleInfo(
        "FL005",
        "cache-misconfigured",
        E,
        "cache=True without a cache version, cache_serialize without cache, or Cache(...) mixed with the "
        "deprecated cache_* arguments",
        "import: ValueError (If version is not defined then at least one cache policy needs to be set / "
        "Cache serialize is enabled ... but cache is not enabled / ... are deprecated); a missing version is "
        "a Warning, as a plugin's default cache policies could supply one",
    ),
    RuleInfo(
        "FL006",
        "nested-entity",
        E,
        "a task, dynamic or eager function is defined inside another function",
        "when the outer function runs: ValueError (TaskFunction cannot be a nested/inner or local function)",
    ),
    RuleInfo(
        "FL007",
        "unsupported-parameter",
        E,
        "positional-only parameters on a task or workflow, or *args on a workflow",
        "serialization (workflow) or the run (task): TypeError",
    ),
    RuleInfo(
        "FL008",
        "output-count-mismatch",
        E,
        "returns a different number of values than the declared outputs",
        "serialization (workflow): AssertionError; run (task): TypeError",
    ),
    RuleInfo(
        "FL009",
        "async-misuse",
        E,
        "an async workflow; an async task or an @eager workflow called from a workflow (its result used: "
        "error; unused: warning, it never runs); a generator task declaring a plain output type",
        "serialization: a coroutine is not a value (Failed to bind ... coroutine); an unused call adds no "
        "node; run: a generator is not the declared type",
    ),
    # -- calls to entities -----------------------------------------------------------------------------------
    RuleInfo(
        "FL010",
        "call-signature",
        E,
        "calling an entity with an unknown keyword, too many positional arguments, a value given twice, or "
        "without a required input (in a workflow body: no default, or a None default on a non-Optional type, "
        "or any input of a map task or a reference; elsewhere: no default); an Optional input without "
        "default left out in a workflow is a warning",
        "serialization/run: AssertionError (Received unexpected keyword argument / Input x ... was not "
        "specified); a local call: TypeError (missing 1 required positional argument)",
    ),
    RuleInfo(
        "FL011",
        "mutable-default-omitted",
        E,
        "calling an entity without an input whose default is a list, dict or set",
        "serialization: FlyteAssertion (is a mutable default argument ... not supported)",
    ),
    RuleInfo(
        "FL012",
        "bad-input-value",
        E,
        "passing (or returning) the result of an entity with no outputs, or passing one with several outputs",
        "serialization: AssertionError (Cannot pass output ... that produces no outputs / cannot receive a "
        "multi-valued tuple)",
    ),
    RuleInfo(
        "FL013",
        "unpack-mismatch",
        E,
        "unpacking an entity's result into a different number of names than its outputs",
        "serialization: ValueError (Promise objects are not iterable / not enough values to unpack)",
    ),
    RuleInfo(
        "FL014",
        "literal-type-mismatch",
        E,
        "a literal of the wrong type for an int/float/str/bool input (an int for a float, too)",
        "serialization/import: TypeTransformerFailedError (Expected value of type ...)",
    ),
    RuleInfo(
        "FL015",
        "reference-subworkflow",
        E,
        "a reference workflow called from a workflow",
        "serialization: ValueError (Reference sub-workflows are currently unsupported. Use reference launch "
        "plans instead)",
    ),
    RuleInfo(
        "FL016",
        "promise-in-dataclass",
        E,
        "a dataclass built with a promise in a field, passed to an entity",
        "serialization: TypeError (Failed to Bind variable ... can not serialize 'Promise' object)",
    ),
    # -- promises in workflow bodies -------------------------------------------------------------------------
    RuleInfo(
        "FL020",
        "promise-truth-value",
        E,
        "if / while / and / or / not / assert on a promise or a comparison of promises",
        "serialization: ValueError (Flytekit does not support ... truth value testing)",
    ),
    RuleInfo(
        "FL021",
        "promise-operator",
        E,
        "arithmetic or another operator on a promise",
        "serialization: TypeError (unsupported operand type(s) ... 'Promise')",
    ),
    RuleInfo(
        "FL022",
        "promise-iteration",
        E,
        "iterating over, unpacking or spreading a single promise",
        "serialization: ValueError (Promise objects are not iterable)",
    ),
    RuleInfo(
        "FL023",
        "promise-python-call",
        E,
        "a Python builtin (len, int, range, ...) or a method call on a promise",
        "serialization: TypeError (object of type 'Promise' has no len() / 'Promise' object is not callable)",
    ),
    RuleInfo(
        "FL024",
        "comparison-as-value",
        E,
        "a comparison of promises passed to an entity or returned",
        "serialization: TypeTransformerFailedError (got ... ComparisonExpression)",
    ),
    RuleInfo(
        "FL025",
        "promise-formatted",
        W,
        "a promise formatted into a string (f-string, str(), format, %) that is passed on",
        "no error: the string holds the promise's repr (Promise(node:...)), not its value",
    ),
    RuleInfo(
        "FL026",
        "promise-identity",
        W,
        "`is None` / `is not None` on a promise",
        "no error: a promise is never None, so the test is always False/True",
    ),
    RuleInfo(
        "FL027",
        "promise-as-index",
        E,
        "a promise used as an index or key",
        "run/serialization: TypeError (list indices must be integers or slices, not Promise)",
    ),
    RuleInfo(
        "FL028",
        "helper-misuses-promise",
        E,
        "a plain Python function is called with a promise and does something a promise cannot do",
        "serialization: the helper's TypeError/ValueError (it runs while the workflow is compiled)",
    ),
    # -- conditionals ----------------------------------------------------------------------------------------
    RuleInfo(
        "FL030",
        "conditional-without-else",
        E,
        "a conditional() without else_(): its result used (error), or left unused (warning)",
        "serialization: FlyteValidationException (Failed to bind output ... condition(...)); unused, a local "
        "run fails (Failed to convert output ... None)",
    ),
    RuleInfo(
        "FL031",
        "conditional-not-comparison",
        E,
        "if_()/elif_() given a bare promise or a constant instead of a comparison",
        "serialization: AssertionError (Flytekit does not support unary expressions ... / Logical operations "
        "are not supported)",
    ),
    # -- launch plans ----------------------------------------------------------------------------------------
    RuleInfo(
        "FL040",
        "launch-plan-unknown-input",
        E,
        "fixed_inputs / default_inputs name an input the workflow does not have",
        "import: AssertionError (Received unexpected keyword argument) / KeyError",
    ),
    RuleInfo(
        "FL041",
        "launch-plan-needs-name",
        E,
        "LaunchPlan.get_or_create with settings but no name",
        "import: ValueError (Only named launchplans can be created that have other properties)",
    ),
    RuleInfo(
        "FL042",
        "launch-plan-duplicate-name",
        E,
        "two launch plans with the same name in one module that flytekit cannot reconcile",
        "import: AssertionError (Launch plan named ... was already created / Trying to create two launch "
        "plans ...)",
    ),
    # -- map tasks -------------------------------------------------------------------------------------------
    RuleInfo(
        "FL050",
        "map-task-target",
        E,
        "map_task over a workflow, a dynamic or an eager workflow",
        "serialization (import for a module-level map_task): ValueError (Only PythonFunctionTask with "
        "default execution mode (not @dynamic or @eager) ... are supported in map tasks)",
    ),
    RuleInfo(
        "FL051",
        "map-task-outputs",
        E,
        "map_task over a task with more than one output",
        "serialization: ValueError (Only tasks with a single output are supported in map tasks)",
    ),
    # -- module ----------------------------------------------------------------------------------------------
    RuleInfo(
        "FL060",
        "duplicate-entity",
        W,
        "two entities with different interfaces bound to the same name in one module",
        "the later one replaces the earlier: workflows compiled after it call the later one (e.g. "
        "AssertionError: Received unexpected keyword argument)",
    ),
)

RULES_BY_CODE: dict[str, RuleInfo] = {rule.code: rule for rule in RULES}
SYNTAX_ERROR_CODE = "FL000"


def default_severity(code: str) -> Severity:
    rule = RULES_BY_CODE.get(code)
    return rule.severity if rule is not None else Severity.ERROR
