"""The valid-workflows corpus (tests/corpus/): flytekit packages and runs it; flyte-ls finds nothing in it."""

from __future__ import annotations

import logging
import subprocess
import textwrap
from pathlib import Path

import pytest
from lint_support import venv_python

from flyte_ls.analysis import EntityKind, analyze, module_name_for, source_root_for
from flyte_ls.check import SiblingLookup

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
FILES = sorted(CORPUS.rglob("*.py"))
IMAGE = "ghcr.io/flyteorg/flytekit:py3.11-1.16.31"  # only written into the package, never pulled


@pytest.mark.timeout(60)
def test_no_finding_in_the_corpus(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="flyte_ls.analysis")
    lookups = SiblingLookup()
    kinds: set[EntityKind] = set()
    findings = []
    for path in FILES:
        lookup = lookups.for_root(source_root_for(path))
        analysis = analyze(
            path.read_text(encoding="utf-8"), module_name_for(path), path=str(path), lookup=lookup
        )
        assert analysis.syntax_error is None
        kinds.update(e.kind for e in analysis.entities)
        findings += [f"{path.name}:{f.range.start.line + 1}: {f.code} {f.message}" for f in analysis.findings]
    assert findings == []
    assert kinds == set(EntityKind), "the corpus must show every entity kind"
    # a checker that crashed would also report nothing: make sure none did
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.flytekit
@pytest.mark.timeout(180)
def test_flytekit_packages_the_corpus(tmp_path: Path) -> None:
    """`pyflyte package` imports every module and serializes every entity, as for a registration."""
    pyflyte = Path(venv_python()).with_name("pyflyte")
    if not pyflyte.exists():
        pytest.skip("pyflyte is not installed in the test venv")
    out = tmp_path / "corpus.tgz"
    proc = subprocess.run(
        [str(pyflyte), "--pkgs", "corpus_pkg", "package", "--image", IMAGE, "-f", "-o", str(out)],
        cwd=CORPUS,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Successfully packaged" in proc.stdout
    assert out.stat().st_size > 0


RUNS = """
import sys
from corpus_pkg import conditionals, dynamic_eager, helpers, import_styles, map_tasks, workflows

checks = [
    (workflows.simple(x=3), 6),
    (workflows.positional(x=1), 3),
    (workflows.chained(x=1, y=2), 5),
    (tuple(workflows.named_outputs(values=[1, 2, 3])), (2.0, 3)),
    (tuple(workflows.unpacking(values=[4, 1, 3, 2])), (3, 6)),
    (workflows.overrides(x=1), 6),
    (workflows.plain_python(x=1, words=["a", "b", "a"]), {"a": 2, "b": 1}),
    (workflows.collections(x=1, y=2), [0, 1, 2, 3, 4, 5]),
    (workflows.dataclasses_and_files(name="n"), "corpus-red"),
    (workflows.optionals(x=None), None),
    (workflows.sub_workflows(x=1), 4),
    (workflows.scaled_twice(x=1), 8),
    (conditionals.branches(x=2, name="n"), 16),
    (conditionals.string_result(x=3), "value 3"),
    (map_tasks.mapping(xs=[1, 2], ys=[1, 1]), [42, 66]),
    (dynamic_eager.fan_out(values=[1, 2, 3]), [4, 8, 15]),
    (helpers.with_helpers(x=1, xs=[5, 6]), 9),
    (import_styles.via_fk(x=1), 5),
]
bad = [(i, got, want) for i, (got, want) in enumerate(checks) if got != want]
print(bad)
sys.exit(1 if bad else 0)
"""


@pytest.mark.flytekit
@pytest.mark.timeout(180)
def test_flytekit_runs_corpus_workflows_locally() -> None:
    proc = subprocess.run(
        [venv_python(), "-c", textwrap.dedent(RUNS)],
        cwd=CORPUS,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
