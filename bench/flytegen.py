"""Deterministic generator of realistic flytekit 1.x source: tasks, dynamic tasks, workflows, launch plans.

The code it writes is valid flytekit (``python bench/gen_module.py --check`` imports it with real flytekit):
tasks have typed inputs (some with defaults) and bodies that use every input; workflows call tasks with
keyword arguments, bound type-correctly to workflow inputs or to earlier calls' outputs; dynamic tasks fan out
over a task; launch plans set default and fixed inputs that the workflow has.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

HEADER = [
    "import math",
    "import typing",
    "from typing import Dict, List, Tuple",
    "",
    "from flytekit import LaunchPlan, Resources, dynamic, task, workflow",
    "",
    'Stats = typing.NamedTuple("Stats", [("mean", float), ("count", int)])',
]

# annotation -> (literal for defaults/constants, expression folding a value ``v`` of that type into ``total``)
INPUT_TYPES: dict[str, tuple[str, str]] = {
    "int": ("3", "total += float({v} % 97)"),
    "float": ("0.5", "total += {v} * 0.5"),
    "str": ('"default"', "total += float(len({v}))"),
    "bool": ("False", "total += 1.0 if {v} else 0.0"),
    "List[int]": ("[1, 2, 3]", "total += float(sum({v}))"),
    "Dict[str, float]": ('{"a": 1.0}', "total += sum({v}.values())"),
}
SCALARS = ["int", "float", "str", "bool"]

# output annotation -> (return statement, output names and types)
OUTPUT_TYPES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "int": ("return int(total) % 1000", [("o0", "int")]),
    "float": ("return round(total, 3)", [("o0", "float")]),
    "str": ('return f"result-{total:.2f}"', [("o0", "str")]),
    "List[int]": ("return [int(total) + k for k in range(3)]", [("o0", "List[int]")]),
    "Tuple[int, str]": ("return int(total), str(round(total, 1))", [("o0", "int"), ("o1", "str")]),
    "Stats": ("return Stats(mean=total / 3.0, count=int(total))", [("mean", "float"), ("count", "int")]),
}
OUTPUT_WEIGHTS = {"int": 4, "float": 4, "str": 2, "List[int]": 1, "Tuple[int, str]": 1, "Stats": 1}

FILLERS: list[list[str]] = [
    ["for i in range(3):", "    total = math.sqrt(total * total + i)"],
    ["if total > 1000.0:", "    total = total / 2.0", "else:", "    total = total + 1.0"],
    ["values = [total * k for k in range(4)]", "total = max(values) - min(values) + total"],
    ["window = {k: total / (k + 1) for k in range(5)}", "total = sum(window.values()) / len(window)"],
    [
        "# keep the value bounded so that downstream tasks get sane inputs",
        "total = math.fmod(total, 10_000.0)",
    ],
    ["count = 0", "while count < 3:", "    total += math.log1p(abs(total))", "    count += 1"],
    ["try:", "    total = total / (total - 1.0)", "except ZeroDivisionError:", "    total = 0.0"],
]

VERBS = [
    "clean",
    "load",
    "score",
    "train",
    "merge",
    "split",
    "embed",
    "rank",
    "fetch",
    "validate",
    "enrich",
    "summarize",
    "normalize",
    "aggregate",
    "export",
    "filter",
    "sample",
    "label",
    "join",
    "dedupe",
]
NOUNS = [
    "orders",
    "users",
    "events",
    "images",
    "features",
    "labels",
    "metrics",
    "reports",
    "sessions",
    "logs",
    "payments",
    "clicks",
    "models",
    "documents",
    "batches",
    "shards",
    "vectors",
    "invoices",
    "items",
    "routes",
]
ARGS = {
    "int": ["count", "limit", "seed", "batch_size", "epochs", "shard", "top_k", "window"],
    "float": ["ratio", "threshold", "learning_rate", "alpha", "weight", "scale"],
    "str": ["name", "label", "region", "prefix", "mode", "bucket"],
    "bool": ["dry_run", "verbose", "strict", "use_cache"],
    "List[int]": ["ids", "offsets", "sizes"],
    "Dict[str, float]": ["weights", "params", "limits"],
}
SETTINGS = [
    "",
    '(cache=True, cache_version="1.0")',
    "(retries=2)",
    "(retries=3, timeout=600)",
    '(requests=Resources(cpu="1", mem="1Gi"), limits=Resources(cpu="2", mem="2Gi"))',
    '(cache=True, cache_version="2", requests=Resources(mem="500Mi"))',
    "(interruptible=True, retries=1)",
]

DYNAMIC_SETTINGS = ["", "(retries=1)", '(cache=True, cache_version="1")']


@dataclass
class TaskSig:
    name: str
    inputs: list[tuple[str, str, bool]]  # name, type, required
    outputs: list[tuple[str, str]]  # name, type
    output_annotation: str


@dataclass
class ModuleWriter:
    """Accumulates one module's lines and the entities defined in it."""

    rng: random.Random
    prefix: str = ""  # makes names unique across a workspace
    lines: list[str] = field(default_factory=list)
    tasks: list[TaskSig] = field(default_factory=list)
    workflows: list[TaskSig] = field(default_factory=list)
    entity_names: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    _used: set[str] = field(default_factory=set)

    def fresh(self, base: str) -> str:
        name, k = f"{base}{self.prefix}", 1
        while name in self._used:
            k += 1
            name = f"{base}{self.prefix}_{k}"
        self._used.add(name)
        return name

    def blank(self, n: int = 2) -> None:
        self.lines.extend([""] * n)

    # -- tasks -----------------------------------------------------------------------------------------------
    def task(self, body_lines: int = 8) -> TaskSig:
        rng = self.rng
        name = self.fresh(f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}")
        n_inputs = rng.randint(2, 5)
        types = [
            rng.choice(SCALARS) if rng.random() < 0.75 else rng.choice(list(INPUT_TYPES))
            for _ in range(n_inputs)
        ]
        inputs: list[tuple[str, str, bool]] = []
        used_args: set[str] = set()
        n_required = rng.randint(1, n_inputs)
        for i, t in enumerate(types):
            arg = rng.choice(ARGS[t])
            while arg in used_args:
                arg = f"{arg}_{i}"
            used_args.add(arg)
            required = i < n_required or t not in SCALARS
            inputs.append((arg, t, required))
        # Python requires defaults last: required inputs first.
        inputs.sort(key=lambda x: not x[2])
        out_ann = rng.choices(list(OUTPUT_WEIGHTS), weights=list(OUTPUT_WEIGHTS.values()))[0]
        ret, outputs = OUTPUT_TYPES[out_ann]
        params = ", ".join(f"{a}: {t}" if req else f"{a}: {t} = {INPUT_TYPES[t][0]}" for a, t, req in inputs)
        sig = TaskSig(name, inputs, outputs, out_ann)
        self.lines.append(f"@task{rng.choice(SETTINGS)}")
        self.lines.append(f"def {name}({params}) -> {out_ann}:")
        self.lines.append(f'    """{name.replace("_", " ").capitalize()} for the nightly pipeline."""')
        self.lines.append("    total = 0.0")
        for a, t, _ in inputs:
            self.lines.append("    " + INPUT_TYPES[t][1].format(v=a))
        self._filler(body_lines - len(inputs) - 3)
        self.lines.append("    " + ret)
        self.tasks.append(sig)
        self.entity_names.append(name)
        return sig

    def _filler(self, n: int) -> None:
        while n > 0:
            block = [b for b in FILLERS if len(b) <= n] or [["total += 1.0"]]
            chosen = self.rng.choice(block)
            self.lines.extend("    " + line for line in chosen)
            n -= len(chosen)

    # -- dynamic ---------------------------------------------------------------------------------------------
    def dynamic(self) -> str | None:
        rng = self.rng
        cands = [
            t for t in self.tasks if len(t.outputs) == 1 and t.output_annotation in ("int", "float", "str")
        ]
        if not cands:
            return None
        callee = rng.choice(cands)
        name = self.fresh(f"fan_out_{rng.choice(NOUNS)}")
        kwargs = []
        for a, t, req in callee.inputs:
            if t == "int":
                kwargs.append(f"{a}=i")
            elif t == "float":
                kwargs.append(f"{a}=seed * i")
            elif req:
                kwargs.append(f"{a}={INPUT_TYPES[t][0]}")
        self.lines += [
            "@dynamic" + rng.choice(DYNAMIC_SETTINGS),
            f"def {name}(n: int, seed: float = 1.0) -> List[{callee.output_annotation}]:",
            f'    """Fan out {callee.name} over n shards."""',
            "    results = []",
            "    for i in range(n):",
            f"        results.append({callee.name}({', '.join(kwargs)}))",
            "    return results",
        ]
        self.entity_names.append(name)
        return name

    # -- workflows -------------------------------------------------------------------------------------------
    def workflow(self, pool: list[TaskSig] | None = None) -> TaskSig | None:
        rng = self.rng
        pool = pool if pool is not None else self.tasks
        if not pool:
            return None
        name = self.fresh(f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}_wf")
        calls = [rng.choice(pool[-12:]) for _ in range(rng.randint(3, 6))]
        wf_inputs: dict[str, str] = {}  # type -> input name
        available: dict[str, list[str]] = {}  # type -> promise expressions
        body: list[str] = []
        last: tuple[str, str] | None = None
        for k, callee in enumerate(calls):
            kw = []
            for a, t, req in callee.inputs:
                if not req and rng.random() < 0.5:
                    continue
                if available.get(t) and rng.random() < 0.7:
                    kw.append(f"{a}={rng.choice(available[t])}")
                else:
                    if t not in wf_inputs:
                        wf_inputs[t] = f"{ARGS[t][0]}_in" if t in ARGS else f"p{len(wf_inputs)}"
                    kw.append(f"{a}={wf_inputs[t]}")
            var = f"r{k}"
            call = f"{callee.name}({', '.join(kw)})"
            if len(callee.outputs) == 1:
                body.append(f"    {var} = {call}")
                outs = [(var, callee.outputs[0][1])]
            elif callee.output_annotation == "Stats":
                body.append(f"    {var} = {call}")
                outs = [(f"{var}.{o}", t) for o, t in callee.outputs]
            else:
                names = [f"{var}_{i}" for i in range(len(callee.outputs))]
                body.append(f"    {', '.join(names)} = {call}")
                outs = [(n, t) for n, (_, t) in zip(names, callee.outputs, strict=True)]
            for expr, t in outs:
                available.setdefault(t, []).append(expr)
            last = outs[0]
        assert last is not None
        if not wf_inputs:
            wf_inputs["int"] = "count_in"
        items = list(wf_inputs.items())
        params = ", ".join(
            f"{n}: {t}" if i == 0 else f"{n}: {t} = {INPUT_TYPES[t][0]}" for i, (t, n) in enumerate(items)
        )
        self.lines.append("@workflow")
        self.lines.append(f"def {name}({params}) -> {last[1]}:")
        self.lines.append(f'    """{name.replace("_", " ").capitalize()}: {len(calls)} steps."""')
        self.lines.extend(body)
        self.lines.append(f"    return {last[0]}")
        sig = TaskSig(name, [(n, t, i == 0) for i, (t, n) in enumerate(items)], [("o0", last[1])], last[1])
        self.workflows.append(sig)
        self.entity_names.append(name)
        return sig

    # -- launch plans ----------------------------------------------------------------------------------------
    def launch_plan(self, wf: TaskSig, lp_prefix: str) -> str:
        rng = self.rng
        name = self.fresh(f"{wf.name}_{rng.choice(['nightly', 'hourly', 'backfill', 'weekly'])}_lp")
        first, *rest = wf.inputs
        lines = [
            f"{name} = LaunchPlan.get_or_create(",
            f"    workflow={wf.name},",
            f'    name="{lp_prefix}{name}",',
        ]
        lines.append(f'    default_inputs={{"{first[0]}": {INPUT_TYPES[first[1]][0]}}},')
        if rest:
            n, t, _ = rng.choice(rest)
            lines.append(f'    fixed_inputs={{"{n}": {INPUT_TYPES[t][0]}}},')
        lines.append(")")
        self.lines.extend(lines)
        self.entity_names.append(name)
        return name

    # -- plain python ----------------------------------------------------------------------------------------
    def helper(self, n_lines: int) -> None:
        """A plain (non-Flyte) helper function of exactly ``n_lines`` lines (n_lines >= 3)."""
        name = self.fresh(f"_{self.rng.choice(VERBS)}_helper")
        self.lines.append(f"def {name}(values: List[float]) -> float:")
        self.lines.append("    total = sum(values)")
        self._filler(n_lines - 3)
        self.lines.append("    return total")

    def text(self) -> str:
        head = HEADER[:5] + (["", *self.imports] if self.imports else []) + HEADER[5:]
        return "\n".join(head + self.lines).rstrip("\n") + "\n"


def flyte_module(
    rng: random.Random,
    n_entities: int,
    *,
    prefix: str = "",
    lp_prefix: str = "",
    body_lines: tuple[int, int] = (6, 12),
    mix: tuple[float, float, float] = (0.78, 0.04, 0.12),  # task, dynamic, workflow; the rest launch plans
) -> ModuleWriter:
    """A module with exactly ``n_entities`` entities, in a realistic order (workflows after their tasks)."""
    w = ModuleWriter(rng, prefix)
    w.blank()
    p_task, p_dyn, p_wf = mix
    lps_wanted = max(0, round(n_entities * (1.0 - p_task - p_dyn - p_wf)))
    wfs_wanted = max(1 if n_entities >= 3 else 0, round(n_entities * p_wf))
    dyn_wanted = round(n_entities * p_dyn)
    tasks_wanted = n_entities - lps_wanted - wfs_wanted - dyn_wanted
    tasks_wanted = max(tasks_wanted, 1)
    plan = (
        ["task"] * tasks_wanted + ["workflow"] * wfs_wanted + ["dynamic"] * dyn_wanted + ["lp"] * lps_wanted
    )
    rng.shuffle(plan)
    deferred: list[str] = []
    pending_lp: list[TaskSig] = []

    def emit(kind: str) -> bool:
        if kind == "task":
            w.task(rng.randint(*body_lines))
        elif kind == "workflow":
            if len(w.tasks) < 3:
                return False
            wf = w.workflow()
            assert wf is not None
            pending_lp.append(wf)
        elif kind == "dynamic":
            if len(w.tasks) < 3 or w.dynamic() is None:
                return False
        elif kind == "lp":
            if not pending_lp:
                return False
            w.launch_plan(pending_lp.pop(rng.randrange(len(pending_lp))), lp_prefix)
        w.blank()
        return True

    for kind in plan:
        if not emit(kind):
            deferred.append(kind)
            continue
        for again in list(deferred):
            if emit(again):
                deferred.remove(again)
    for kind in deferred:  # whatever still cannot be placed becomes a task: the entity count stays exact
        if not emit(kind):
            emit("task")
    return w
