"""flyte_ls.run.failures on error texts the local backend really returned (tests/run/fixtures/, captured from
closure.error.message of a failing task of tests/run/data/trackflows, run from its unpacked archive)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flyte_ls.run.failures import (
    DYNAMIC_CODE,
    Frame,
    deepest,
    frames_from_error,
    is_dynamic,
    map_to_workspace,
    place_in_cells,
)

pytestmark = pytest.mark.timeout(30)
FIXTURES = Path(__file__).parent / "fixtures"


def message(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.mark.parametrize("name", ["user_error_workflow.txt", "user_error_task.txt"])
def test_frames_of_a_user_error(name: str) -> None:
    frames = frames_from_error(message(name))
    assert [f.name for f in frames] == ["dispatch_execute", "execute", "validate", "check_positive"]
    assert frames[0].file.endswith("flytekit/core/base_task.py")
    last = deepest(frames)
    assert last is not None
    assert last.file.endswith("/trackflows/helpers.py") and last.line == 6
    assert frames[2].file.endswith("/trackflows/flows.py") and frames[2].line == 24


def test_no_traceback_no_frames() -> None:
    assert frames_from_error("") == []
    assert frames_from_error("[n0] task failed: OOMKilled") == []
    assert frames_from_error('  File "<string>", line 1, in <module>\n') == []


def test_mapped_to_the_workspace_by_the_longest_suffix(tmp_path: Path) -> None:
    pkg = tmp_path / "trackflows"
    pkg.mkdir()
    (pkg / "flows.py").write_text("")
    (pkg / "helpers.py").write_text("")
    (tmp_path / "helpers.py").write_text("")  # a shorter suffix that must lose to trackflows/helpers.py
    mapped = map_to_workspace(frames_from_error(message("user_error_workflow.txt")), tmp_path)
    assert mapped == [
        Frame(str(pkg / "flows.py"), 24, "validate"),
        Frame(str(pkg / "helpers.py"), 6, "check_positive"),
    ]
    assert deepest(mapped) == Frame(str(pkg / "helpers.py"), 6, "check_positive")


def test_container_paths_and_workspace_paths(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("")
    frames = [
        Frame("/root/pkg/mod.py", 3, "f"),  # a container's destination dir
        Frame(str(tmp_path / "pkg" / "mod.py"), 4, "g"),  # already the workspace file
        Frame("/usr/lib/python3.11/site-packages/pkg/mod.py", 5, "h"),  # never site-packages
        Frame("/root/other.py", 6, "i"),  # not in the workspace
    ]
    assert map_to_workspace(frames, tmp_path) == [
        Frame(str(tmp_path / "pkg" / "mod.py"), 3, "f"),
        Frame(str(tmp_path / "pkg" / "mod.py"), 4, "g"),
    ]


def test_frame_json_round_trip() -> None:
    frame = Frame("/a/b.py", 7, "fn")
    assert Frame.from_json(frame.to_json()) == frame


# -- notebooks: code pickled by value -----------------------------------------------------------------------
# tests/server/data/failures.ipynb's code cells (magics blanked, as the server hands them over): the task
# `validate` (cell 2 here) calls `check_positive` (cell 1), which raises; fixtures/notebook_user_error.txt is
# what the local backend returned for that run.
CELLS = [
    "from datetime import timedelta\n\nfrom flytekit import approve, task, workflow",
    "\n\n\ndef check_positive(x: int) -> int:\n    if x <= 0:\n"
    '        raise ValueError(f"x must be positive, got {x}")\n    return x',
    "@task\ndef validate(x: int) -> int:\n    return check_positive(x)",
]


def test_dynamic_code_frames_are_kept_other_pseudo_files_are_not() -> None:
    frames = frames_from_error(message("notebook_user_error.txt"))
    assert [(f.file, f.line, f.name) for f in frames[2:]] == [
        ("<dynamic-code>", 3, "validate"),
        ("<dynamic-code>", 6, "check_positive"),
    ]
    assert frames[0].file.endswith("flytekit/core/base_task.py")
    assert is_dynamic(frames[-1].file) and not is_dynamic(frames[0].file) and not is_dynamic("<string>")
    mixed = 'File "<frozen runpy>", line 88, in _run_code\n  File "<dynamic-code>", line 2, in f\n'
    assert frames_from_error(mixed) == [Frame(DYNAMIC_CODE, 2, "f")]


def test_dynamic_frames_map_to_no_file_unless_kept(tmp_path: Path) -> None:
    (tmp_path / "<dynamic-code>").write_text("")  # even a file of that name in the workspace
    (tmp_path / "mod.py").write_text("")
    frames = [Frame("/root/mod.py", 1, "f"), Frame(DYNAMIC_CODE, 3, "g"), Frame("/root/other.py", 4, "h")]
    assert map_to_workspace(frames, tmp_path) == [Frame(str(tmp_path / "mod.py"), 1, "f")]
    assert map_to_workspace(frames, tmp_path, keep_dynamic=True) == [
        Frame(str(tmp_path / "mod.py"), 1, "f"),
        Frame(DYNAMIC_CODE, 3, "g"),
    ]


def test_a_dynamic_frame_is_placed_in_the_cell_that_defines_its_function() -> None:
    validate, check = frames_from_error(message("notebook_user_error.txt"))[2:]
    assert place_in_cells(check, CELLS) == (1, 5)  # the `raise` line, 0-based in cell 1
    assert CELLS[1].split("\n")[5].strip().startswith("raise ValueError")
    assert place_in_cells(validate, CELLS) == (2, 2)
    assert place_in_cells(validate, CELLS, up_to=2) == (2, 2)
    assert place_in_cells(validate, CELLS, up_to=1) is None  # cell 2 was not run before the pickle


def test_a_dynamic_frame_that_fits_no_cell_is_not_placed() -> None:
    assert place_in_cells(Frame(DYNAMIC_CODE, 6, "missing"), CELLS) is None  # no such function
    assert place_in_cells(Frame(DYNAMIC_CODE, 9, "check_positive"), CELLS) is None  # past the def's end
    assert place_in_cells(Frame(DYNAMIC_CODE, 3, "check_positive"), CELLS) is None  # before the def
    assert place_in_cells(Frame(DYNAMIC_CODE, 0, "check_positive"), CELLS) is None
    assert place_in_cells(Frame("/ws/mod.py", 6, "check_positive"), CELLS) is None  # a file's frame
    broken = [CELLS[1].replace("def check_positive(x: int)", "def check_positive(x: int")]
    assert place_in_cells(Frame(DYNAMIC_CODE, 6, "check_positive"), broken) is None  # does not parse


def test_the_last_definition_up_to_the_entity_wins_decorators_lambdas_and_nesting_count() -> None:
    again = "def check_positive(x):\n    raise ValueError(x)\n\n\n\n\n"
    cells = [*CELLS, again, "@task\n@other\ndef deco(x):\n    f = lambda y: 1 / y\n    return f(x)"]
    assert place_in_cells(Frame(DYNAMIC_CODE, 2, "check_positive"), cells) == (3, 1)
    assert place_in_cells(Frame(DYNAMIC_CODE, 6, "check_positive"), cells) == (
        1,
        5,
    )  # line 6 is past cell 3's def
    assert place_in_cells(Frame(DYNAMIC_CODE, 2, "check_positive"), cells, up_to=2) is None
    assert place_in_cells(Frame(DYNAMIC_CODE, 4, "<lambda>"), cells) == (4, 3)
    assert place_in_cells(Frame(DYNAMIC_CODE, 1, "deco"), cells) == (4, 0)  # its decorators are its lines
    assert place_in_cells(Frame(DYNAMIC_CODE, 2, "<lambda>"), cells) is None
    nested = ["def outer():\n    def inner():\n        raise KeyError\n    inner()"]
    assert place_in_cells(Frame(DYNAMIC_CODE, 3, "inner"), nested) == (0, 2)
    comprehension = ["def f(xs):\n    return [1 / x\n            for x in xs]"]
    assert place_in_cells(Frame(DYNAMIC_CODE, 2, "<listcomp>"), comprehension) == (0, 1)
