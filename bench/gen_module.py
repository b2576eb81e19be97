"""Generate the benchmark's big module: 10,000 lines, 500 Flyte entities (deterministic for a given seed).

    .venv/bin/python bench/gen_module.py OUT.py [--lines 10000] [--entities 500] [--seed 7] [--check]

``--check`` imports the written module with real flytekit (if installed) and verifies that it defines exactly
the entities the generator reports: the benchmark file is valid Flyte code, not a text pattern.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flytegen import ModuleWriter, flyte_module


@dataclass
class GeneratedModule:
    text: str
    entity_names: list[str]
    kinds: dict[str, int]

    @property
    def line_count(self) -> int:
        return self.text.count("\n")


def _kinds(w: ModuleWriter) -> dict[str, int]:
    c: collections.Counter[str] = collections.Counter()
    pending = ""
    for line in w.lines:
        if line.startswith("@task"):
            pending = "task"
        elif line.startswith("@dynamic"):
            pending = "dynamic"
        elif line.startswith("@workflow"):
            pending = "workflow"
        elif " = LaunchPlan.get_or_create(" in line:
            c["launch_plan"] += 1
        elif line.startswith("def ") and pending:
            c[pending] += 1
            pending = ""
    return dict(c)


def generate_module(lines: int = 10_000, entities: int = 500, seed: int = 7) -> GeneratedModule:
    """Exactly ``entities`` entities and exactly ``lines`` lines (plain helper functions fill the rest)."""
    lo, hi = 12, 22
    for _ in range(40):
        w = flyte_module(random.Random(seed), entities, body_lines=(lo, hi), lp_prefix="bench.")
        n = len(w.text().splitlines())
        if n > lines:
            lo, hi = max(3, lo - 1), max(4, hi - 1)
            continue
        if lines - n > lines // 10 and hi < 60:
            lo, hi = lo + 1, hi + 1
            continue
        break
    else:
        raise RuntimeError(f"cannot fit {entities} entities in {lines} lines")
    w.lines.append("# -- plain helpers (no Flyte entities) " + "-" * 70)
    while True:
        while w.lines and not w.lines[-1]:
            w.lines.pop()
        missing = lines - len(w.text().splitlines())
        if missing <= 0:
            break
        if missing >= 32:
            w.blank()
            w.helper(w.rng.randint(12, 25))
        elif missing >= 5:
            w.blank()
            w.helper(missing - 2)
        else:
            w.lines.extend(["# end of module"] * missing)
    text = w.text()
    assert text.count("\n") == lines, (text.count("\n"), lines)
    return GeneratedModule(text, list(w.entity_names), _kinds(w))


def check_with_flytekit(path: Path, expected: list[str]) -> str:
    """Import ``path`` with real flytekit and compare its entities with ``expected``; returns a summary."""
    try:
        from flytekit.core.base_task import PythonTask
        from flytekit.core.launch_plan import LaunchPlan
        from flytekit.core.workflow import WorkflowBase
    except ImportError:
        return "flytekit is not installed: skipped the import check"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = mod
    spec.loader.exec_module(mod)
    found = [k for k, v in vars(mod).items() if isinstance(v, (PythonTask, WorkflowBase, LaunchPlan))]
    if sorted(found) != sorted(expected):
        missing = sorted(set(expected) - set(found))[:5]
        extra = sorted(set(found) - set(expected))[:5]
        raise SystemExit(f"flytekit disagrees: missing {missing}, unexpected {extra}")
    return f"flytekit imported it: {len(found)} entities, as generated"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--lines", type=int, default=10_000)
    p.add_argument("--entities", type=int, default=500)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--check", action="store_true", help="import the result with real flytekit")
    args = p.parse_args(argv)
    gen = generate_module(args.lines, args.entities, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(gen.text)
    print(
        f"wrote {args.out}: {gen.line_count} lines, {len(gen.entity_names)} entities {json.dumps(gen.kinds)}"
    )
    if args.check:
        print(check_with_flytekit(args.out, gen.entity_names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
