"""The workspace index: excludes (.gitignore, flyte.exclude, hidden folders, virtualenvs), scanning files
(size limit, encodings, positions in the client's units), symbol search, and the lints' module lookup."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from flyte_ls.server.index import Excludes, WorkspaceIndex, scan_batch, scan_file, walk_python_files
from flyte_ls.server.positions import UTF8, UTF16, Codec
from flyte_ls.server.scanning import scan_files

pytestmark = pytest.mark.timeout(30)

TASK = """from flytekit import task, workflow


@task
def {name}(x: int) -> int:
    return x + 1
"""


def write(root: Path, rel: str, text: str = "") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rels(root: Path, paths: list[str]) -> list[str]:
    return sorted(str(Path(p).relative_to(root)) for p in paths)


def test_walk_honours_gitignore_settings_hidden_folders_and_virtualenvs(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "build/\n*.gen.py\n!keep.gen.py\n")
    write(tmp_path, "pkg/__init__.py")
    write(tmp_path, "pkg/a.py")
    write(tmp_path, "pkg/x.gen.py")
    write(tmp_path, "pkg/keep.gen.py")
    write(tmp_path, "build/out.py")
    write(tmp_path, "pkg/sub/.gitignore", "local_*.py\n")
    write(tmp_path, "pkg/sub/local_scratch.py")
    write(tmp_path, "pkg/sub/b.py")
    write(tmp_path, ".hidden/c.py")
    write(tmp_path, "node_modules/d.py")
    write(tmp_path, "pkg/__pycache__/e.py")
    write(tmp_path, "myenv/pyvenv.cfg", "home = /usr/bin\n")
    write(tmp_path, "myenv/lib/f.py")
    write(tmp_path, "generated/g.py")
    write(tmp_path, "notes.txt")

    found = rels(tmp_path, list(walk_python_files(Excludes(str(tmp_path), ["generated/"]))))
    assert found == ["pkg/__init__.py", "pkg/a.py", "pkg/keep.gen.py", "pkg/sub/b.py"]


def test_excluded_checks_single_paths_like_the_walk(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "build/\n")
    write(tmp_path, "pkg/sub/.gitignore", "local_*.py\n")
    ex = Excludes(str(tmp_path), ["**/fixtures/**"])
    assert ex.excluded(str(tmp_path / "build/x.py"))
    assert ex.excluded(str(tmp_path / "pkg/sub/local_1.py"))
    assert not ex.excluded(
        str(tmp_path / "pkg/local_1.py")
    )  # the nested .gitignore applies below its folder only
    assert ex.excluded(str(tmp_path / "a/fixtures/y.py"))
    assert not ex.excluded(str(tmp_path / "pkg/ok.py"))
    assert not ex.excluded("/somewhere/else.py")  # outside the folder: not this folder's business


@pytest.mark.parametrize(("encoding", "end"), [(UTF16, 9), (UTF8, 10)])
def test_scan_file_converts_positions_to_the_client_encoding(tmp_path: Path, encoding: str, end: int) -> None:
    # "tâche" is 5 code points, 5 UTF-16 units, 6 UTF-8 bytes.
    path = write(
        tmp_path, "wf.py", "from flytekit import task\n\n\n@task\ndef tâche(x: int) -> int:\n    return x\n"
    )
    entry, note = scan_file(str(path), Codec(encoding), 10_000)
    assert note is None and entry is not None
    assert [s.name for s in entry.symbols] == ["tâche"]
    assert entry.symbols[0].kind == "task"
    assert entry.symbols[0].flyte_name == "wf.tâche"
    assert entry.symbols[0].selection == (4, 4, 4, end)
    assert entry.module == "wf"
    assert entry.analysis.entities[0].inputs[0].name == "x"
    assert entry.analysis.entities[0].calls == []  # summaries only: no call graph, no docstrings


def test_scan_file_reports_why_it_skips(tmp_path: Path) -> None:
    big = write(tmp_path, "big.py", "# flyte\n" + "x = 1\n" * 100)
    entry, note = scan_file(str(big), Codec(), 100)
    assert entry is None and note is not None and "maxFileSizeBytes" in note

    latin = tmp_path / "latin.py"
    latin.write_bytes("# café\nfrom flytekit import task\n".encode("latin-1"))
    entry, note = scan_file(str(latin), Codec(), 10_000)
    assert entry is None and note is not None and "not UTF-8" in note

    entry, note = scan_file(str(tmp_path / "missing.py"), Codec(), 10_000)
    assert entry is None and note is not None and "cannot read" in note


def test_files_without_flyte_are_indexed_without_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "util.py", "def helper(:\n")  # would not even parse
    entry, note = scan_file(str(path), Codec(), 10_000)
    assert note is None and entry is not None and entry.symbols == []


def test_malformed_python_is_indexed_with_what_can_be_recovered(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.py", TASK.format(name="good") + "\n\n@task\ndef bad(:\n")
    entry, note = scan_file(str(path), Codec(), 10_000)
    assert note is None and entry is not None
    assert "good" in [s.name for s in entry.symbols]


def test_index_put_remove_lookup_and_search(tmp_path: Path) -> None:
    index = WorkspaceIndex()
    paths = [
        write(tmp_path, "pkg/__init__.py"),
        write(tmp_path, "pkg/train.py", TASK.format(name="training_step")),
        write(tmp_path, "pkg/eval.py", TASK.format(name="evaluate")),
    ]
    for entry, _ in scan_batch([str(p) for p in paths], UTF8, 10_000):
        assert entry is not None
        index.put(entry)
    assert len(index) == 3
    assert index.entity_count() == 2
    train = index.lookup("pkg.train")
    assert train is not None and train.entity("training_step") is not None

    assert [s.name for s in index.search("training_step", 10)] == ["training_step"]
    assert [s.name for s in index.search("TRAIN", 10)] == ["training_step"]  # case-insensitive
    assert [s.name for s in index.search("pkg.eval.", 10)] == ["evaluate"]  # on the Flyte name
    assert [s.name for s in index.search("trstp", 10)] == ["training_step"]  # fuzzy: characters in order
    assert sorted(s.name for s in index.search("", 10)) == ["evaluate", "training_step"]
    assert index.search("nothing_like_it", 10) == []

    assert index.remove(str(paths[1]))
    assert index.lookup("pkg.train") is None
    assert not index.remove(str(paths[1]))
    assert index.remove_under(str(tmp_path / "pkg")) == 2
    assert len(index) == 0


def test_search_ranks_exact_then_prefix_then_substring(tmp_path: Path) -> None:
    index = WorkspaceIndex()
    for i, name in enumerate(["my_train", "train_model", "train"]):
        entry, _ = scan_file(str(write(tmp_path, f"m{i}.py", TASK.format(name=name))), Codec(), 10_000)
        assert entry is not None
        index.put(entry)
    assert [s.name for s in index.search("train", 10)] == ["train", "train_model", "my_train"]


@pytest.mark.parametrize("workers", [0, 2])
async def test_scan_files_in_a_thread_or_in_worker_processes(tmp_path: Path, workers: int) -> None:
    paths = [str(write(tmp_path, f"pkg/m{i}.py", TASK.format(name=f"t{i}"))) for i in range(120)]
    paths.append(str(write(tmp_path, "pkg/big.py", "# flyte\n" * 5000)))
    got: dict[str, list[str]] = {}
    notes: list[str] = []

    def on_batch(batch: list[str], results: list) -> None:
        for path, (entry, note) in zip(batch, results, strict=True):
            if note:
                notes.append(note)
            got[path] = [s.name for s in entry.symbols] if entry else []

    with ThreadPoolExecutor(1) as thread:
        await asyncio.wait_for(scan_files(paths, UTF16, 20_000, thread, on_batch, workers=workers), 60)
    assert len(got) == len(paths)
    assert got[paths[7]] == ["t7"]
    assert len(notes) == 1 and "big.py" in notes[0]


def test_lookup_finds_entities_defined_in_a_package_init(tmp_path: Path) -> None:
    # flytekit names a task in pkg/__init__.py `pkg.__init__.t`, but Python code imports it as `pkg.t`:
    # the lints' lookup is keyed by the import name.
    index = WorkspaceIndex()
    init = write(tmp_path, "pkg/__init__.py", TASK.format(name="shared_step"))
    for entry, _ in scan_batch([str(init)], UTF8, 10_000):
        assert entry is not None
        index.put(entry)
    found = index.lookup("pkg")
    assert found is not None and found.entity("shared_step") is not None
    assert found.entity("shared_step").flyte_name == "pkg.__init__.shared_step"  # type: ignore[union-attr]
    assert index.lookup("pkg.__init__") is None
    assert index.remove(str(init))
    assert index.lookup("pkg") is None
