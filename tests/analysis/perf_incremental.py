"""Timing of ``Analyzer.entities`` after edits on the benchmark's 10,000-line, 500-entity module (not a test).

    .venv/bin/python tests/analysis/perf_incremental.py [--edits 200] [--no-gc]

Prints p50/p95/max in milliseconds for: a one-line edit that keeps the line count, inserting a line, and
typing a new task character by character; plus a full ``ast.parse`` and ``analyze(lint=False)`` for scale.
Checks at the end that the incremental result equals the full analysis.
"""

from __future__ import annotations

import argparse
import ast
import gc
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from gen_module import generate_module

from flyte_ls.analysis import Analyzer, analyze


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p95 = ordered[min(int(len(ordered) * 0.95), len(ordered) - 1)]
    return f"p50 {p50:6.2f}  p95 {p95:6.2f}  max {ordered[-1]:6.2f}  (n={len(ordered)})"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--no-gc", action="store_true", help="disable the garbage collector while timing")
    args = parser.parse_args()
    source = generate_module().text
    module = "bench.big"
    print(f"module: {source.count(chr(10))} lines")
    print(f"ast.parse                {timed(lambda: ast.parse(source)):8.2f} ms")
    print(f"analyze(lint=False)      {timed(lambda: analyze(source, module, lint=False)):8.2f} ms")
    analyzer = Analyzer()
    print(f"Analyzer.entities, cold  {timed(lambda: analyzer.entities(source, module)):8.2f} ms")
    if args.no_gc:
        gc.disable()
    rng = random.Random(7)
    lines = source.split("\n")
    same: list[float] = []
    inserted: list[float] = []
    for i in range(args.edits):
        body = [n for n, line in enumerate(lines) if line.startswith("    total")]
        at = body[rng.randrange(len(body))]
        lines = list(lines)
        if i % 2:
            lines.insert(at, "    total = total + 1.0")
        else:
            lines[at] += " + 0"
        text = "\n".join(lines)
        (inserted if i % 2 else same).append(timed(lambda text=text: analyzer.entities(text, module)))
    middle = len(lines) // 2
    while not lines[middle].startswith("@"):
        middle += 1
    head, tail = "\n".join(lines[:middle]) + "\n", "\n".join(lines[middle:])
    snippet = '@task\ndef typed_new(a: int, b: str = "x") -> int:\n    return a\n\n\n'
    typing = [
        timed(lambda n=n: analyzer.entities(head + snippet[:n] + tail, module))
        for n in range(1, len(snippet) + 1)
    ]
    gc.enable()
    print(f"one-line edit            {percentiles(same)}")
    print(f"line inserted            {percentiles(inserted)}")
    print(f"typing a new task        {percentiles(typing)}")
    final = head + snippet + tail
    same_result = analyzer.entities(final, module).entities == analyze(final, module, lint=False).entities
    print(f"incremental == full: {same_result}")
    return 0 if same_result else 1


if __name__ == "__main__":
    raise SystemExit(main())
