"""flyte_ls.run.failures on error texts the local backend really returned (tests/run/fixtures/, captured from
closure.error.message of a failing task of tests/run/data/trackflows, run from its unpacked archive)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flyte_ls.run.failures import Frame, deepest, frames_from_error, map_to_workspace

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
