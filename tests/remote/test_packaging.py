"""flyte_ls.remote.packaging: deterministic fast-register archives (against flytekit's own packaging of the
same tree), ignore files, symlinks, the upload headers, and a real upload + task run on a local backend."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from flyte_ls.local.dataproxy import check_fast_archive
from flyte_ls.remote.packaging import (
    ARCHIVE_MTIME,
    Package,
    PackagingError,
    fast_package,
    file_md5,
    files_digest,
    upload_headers,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
from local_backend import NO_PROXY, VENV_BIN, Backend, start_backend

pytestmark = pytest.mark.timeout(60)

TREE = {
    "wf/__init__.py": "",
    "wf/tasks.py": "def add(a, b):\n    return a + b\n",
    "wf/data/config.yaml": "k: v\n",
    "wf/sub/deep/mod.py": "X = 1\n",
    "wf/sub/local_only.py": "# ignored by wf/sub/.gitignore\n",
    "wf/sub/.gitignore": "local_only.py\n",
    "wf/__pycache__/tasks.cpython-311.pyc": "bytecode",
    "stray.pyc": "bytecode",
    ".cache/entry": "cached",
    "build/out.txt": "build output",
    "logs/a.log": "log",
    "logs/keep.log": "kept by a negation",
    "notes.ipynb": "{}",
    "secret.txt": "docker-ignored",
    "docs/index.md": "docker-ignored directory",
    "run.sh": "#!/bin/sh\necho hi\n",
    ".gitignore": "# build products\nbuild/\n*.log\n!keep.log\n",
    ".dockerignore": "# not shipped\nsecret.txt\ndocs\n",
    ".flyteignore": "*.ipynb\n",
}
EXPECTED = [
    ".dockerignore",
    ".flyteignore",
    ".gitignore",
    "logs/keep.log",
    "run.sh",
    "wf/__init__.py",
    "wf/data/config.yaml",
    "wf/sub/.gitignore",
    "wf/sub/deep/mod.py",
    "wf/tasks.py",
]


def write_tree(
    root: Path, files: dict[str, str], *, reverse: bool = False, mtime: float | None = None
) -> Path:
    for rel in sorted(files, reverse=reverse):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[rel])
        if rel.endswith(".sh"):
            path.chmod(path.stat().st_mode | 0o111)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    return root


def git_init(root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30, capture_output=True)


def members(archive: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def contents(archive: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for m in tar.getmembers():
            f = None if m.issym() else tar.extractfile(m)
            out[m.name] = f.read() if f is not None else f"-> {m.linkname}".encode()
    return out


# --- determinism and ignore files ---------------------------------------------------------------------------


def test_same_tree_gives_the_same_bytes_whatever_mtimes_umask_and_order(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        a = write_tree(tmp_path / "a" / "src", TREE, mtime=1_000_000)
        os.umask(0o002)
        b = write_tree(tmp_path / "b" / "src", TREE, reverse=True, mtime=1_700_000_000)
    finally:
        os.umask(old)
    git_init(a)
    git_init(b)
    first = fast_package(a, tmp_path / "out-a")
    second = fast_package(b, tmp_path / "out-b")
    assert first.path.name == second.path.name == f"fast{first.digest}.tar.gz"
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.digest == second.digest and first.files == second.files == tuple(EXPECTED)
    # packaging again overwrites with the same bytes
    assert fast_package(a, tmp_path / "out-a").path.read_bytes() == first.path.read_bytes()

    raw = first.path.read_bytes()
    assert raw[:3] == b"\x1f\x8b\x08" and raw[3] == 0, "no FNAME (or other) flag in the gzip header"
    assert raw[4:8] == b"\0\0\0\0", "gzip header mtime 0"
    infos = members(first.path)
    assert list(infos) == EXPECTED  # sorted, files only
    for name, info in infos.items():
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (ARCHIVE_MTIME, 0, 0, "", "")
        assert info.pax_headers == {}
        assert info.mode == (0o755 if name == "run.sh" else 0o644)
    with gzip.open(first.path) as gz:
        assert b"PaxHeader" not in gz.read()


def test_ignore_files_and_extra_patterns(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", TREE)
    git_init(root)
    assert list(fast_package(root, tmp_path / "o1").files) == EXPECTED
    extra = fast_package(root, tmp_path / "o2", ignores=["wf/data", "*.sh"])
    assert list(extra.files) == [f for f in EXPECTED if f not in ("run.sh", "wf/data/config.yaml")]
    # without the defaults, only .git is left out
    everything = fast_package(root, tmp_path / "o3", keep_default_ignores=False)
    assert set(everything.files) == set(TREE)


def test_gitignore_applies_only_inside_a_work_tree_and_from_the_top(tmp_path: Path) -> None:
    # outside a git work tree .gitignore is inert, as flytekit's `git ls-files` (no repository, no filter)
    plain = write_tree(tmp_path / "plain", {"a.log": "x", "b.py": "", ".gitignore": "*.log\n"})
    assert fast_package(plain, tmp_path / "o1").files == (".gitignore", "a.log", "b.py")
    # a source root below the repository's top: the top's .gitignore and .git/info/exclude apply
    repo = write_tree(tmp_path / "repo", {".gitignore": "*.log\n", "proj/src/a.log": "", "proj/src/b.py": ""})
    git_init(repo)
    (repo / ".git" / "info" / "exclude").write_text("b.py\n")
    write_tree(repo, {"proj/src/c.py": "", "proj/src/d/e.py": ""})
    assert fast_package(repo / "proj" / "src", tmp_path / "o2").files == ("c.py", "d/e.py")


GIT_TREE = {
    ".gitignore": "*.log\n!keep.log\n/build/\ntmp/\n**/gen/*.py\na/**/z.txt\ndoc/*.txt\nout/\n!out/x.txt\n",
    "sub/.gitignore": "*.dat\n!important.dat\n/local.py\n",
    "sub/deeper/.gitignore": "!*.log\n",
    **dict.fromkeys(
        """a.log keep.log sub/b.log sub/deeper/c.log build/o sub/build/o tmp/t sub/tmp/t gen/g.py x/gen/g.py
        x/gen/g.txt a/z.txt a/b/c/z.txt b/a/z.txt doc/d.txt doc/more/d.txt sub/doc/d.txt out/x.txt out/y.txt
        sub/s.dat sub/important.dat sub/deeper/s.dat sub/local.py sub/deeper/local.py main.py""".split(),
        "x",
    ),
}  # fmt: skip


def test_gitignore_matches_git(tmp_path: Path) -> None:
    """What whole-tree leaves out through .gitignore files is what `git ls-files -io --exclude-standard` (what
    flytekit asks) lists, for nested files, negations, anchored, directory-only and ** patterns."""
    root = write_tree(tmp_path / "src", GIT_TREE)
    git_init(root)
    listed = subprocess.run(
        ["git", "ls-files", "-io", "--exclude-standard"],
        cwd=root, capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split()  # fmt: skip
    assert listed, "the tree should make git ignore something"
    assert set(fast_package(root, tmp_path / "out").files) == set(GIT_TREE) - set(listed)


def test_digest_is_flytekits_formula(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", TREE)
    git_init(root)
    package = fast_package(root, tmp_path / "out")
    hasher = hashlib.md5()
    for rel in EXPECTED:
        hasher.update((root / rel).read_bytes())
        hasher.update(rel.replace("/", "").encode())
    assert package.digest == hasher.hexdigest() == files_digest(root, EXPECTED)


# --- symlinks -----------------------------------------------------------------------------------------------


@pytest.fixture
def linked_tree(tmp_path: Path) -> Path:
    outside = write_tree(tmp_path / "outside", {"shared.py": "SHARED = 1\n", "pkg/lib.py": "L = 2\n"})
    root = write_tree(tmp_path / "src", {"wf/__init__.py": "", "wf/real.py": "R = 3\n"})
    (root / "wf" / "alias.py").symlink_to("real.py")  # inside the root: kept as a link
    (root / "wf" / "abs_alias.py").symlink_to(root / "wf" / "real.py")  # absolute, inside: made relative
    (root / "wf" / "shared.py").symlink_to(outside / "shared.py")  # outside: its content is stored
    (root / "wf" / "broken.py").symlink_to(root / "nowhere.py")  # broken: skipped
    (root / "extlib").symlink_to(outside / "pkg", target_is_directory=True)  # a linked directory
    (root / "wf" / "loop").symlink_to(root, target_is_directory=True)  # a loop back to the root
    return root


def test_symlinks_never_point_out_of_the_archive(linked_tree: Path, tmp_path: Path) -> None:
    package = fast_package(linked_tree, tmp_path / "out")
    assert package.files == ("wf/__init__.py", "wf/abs_alias.py", "wf/alias.py", "wf/real.py", "wf/shared.py")
    infos = members(package.path)
    assert infos["wf/alias.py"].issym() and infos["wf/alias.py"].linkname == "real.py"
    assert infos["wf/abs_alias.py"].issym() and infos["wf/abs_alias.py"].linkname == "real.py"
    assert infos["wf/shared.py"].isfile()
    check_fast_archive(package.path)  # the local backend's upload check: nothing escapes
    dest = tmp_path / "extract"
    with tarfile.open(package.path, "r:gz") as tar:
        tar.extractall(dest, filter="data")  # refuses links out of dest
    assert (dest / "wf" / "alias.py").read_text() == "R = 3\n"
    assert (dest / "wf" / "shared.py").read_text() == "SHARED = 1\n"
    # the digest hashes what the links point to, as flytekit
    assert package.digest == files_digest(linked_tree, list(package.files))


def test_deref_symlinks_follows_directories_with_a_loop_guard(linked_tree: Path, tmp_path: Path) -> None:
    package = fast_package(linked_tree, tmp_path / "out", deref_symlinks=True)
    assert "extlib/lib.py" in package.files and "wf/shared.py" in package.files
    assert not any(f.startswith("wf/loop/") for f in package.files)
    assert all(m.isfile() for m in members(package.path).values())  # every link stored as its content


# --- loaded-modules mode ------------------------------------------------------------------------------------


def test_loaded_modules_packages_only_the_given_files_under_the_root(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "src", TREE)
    other = write_tree(tmp_path / "site", {"installed.py": ""})
    (root / "wf" / "linked.py").symlink_to(other / "installed.py")  # a link in the root to an outside file
    modules = [
        root / "wf" / "tasks.py",
        root / "wf" / "__init__.py",
        other / "installed.py",
        root / "stray.pyc",
        root / "wf" / ".." / ".." / "site" / "installed.py",  # `..` never leads out of the root
        root / "wf" / "linked.py",
        tmp_path / "src" / "wf" / ".." / "wf" / "tasks.py",  # the same file twice
    ]
    package = fast_package(root, tmp_path / "out", mode="loaded-modules", modules=modules)
    # no ignore rules in this mode, as flytekit's --copy auto
    assert package.files == ("stray.pyc", "wf/__init__.py", "wf/linked.py", "wf/tasks.py")
    assert list(members(package.path)) == list(package.files)
    assert contents(package.path)["wf/linked.py"] == b""  # stored as the file it points to
    assert members(package.path)["wf/linked.py"].isfile()
    assert package.digest == files_digest(root, list(package.files))
    with pytest.raises(PackagingError, match="does not exist"):
        fast_package(root, tmp_path / "out", mode="loaded-modules", modules=[root / "gone.py"])
    with pytest.raises(PackagingError, match="needs modules"):
        fast_package(root, tmp_path / "out", mode="loaded-modules")
    with pytest.raises(PackagingError, match="not a directory"):
        fast_package(root / "run.sh", tmp_path / "out")


# --- against flytekit's own packaging -----------------------------------------------------------------------

FLYTEKIT_PACKAGE = """
import sys
from flytekit.constants import CopyFileDetection
from flytekit.tools.fast_registration import FastPackageOptions, fast_package
style = CopyFileDetection.ALL
print(fast_package(sys.argv[1], sys.argv[2], deref_symlinks=sys.argv[3] == "1",
                   options=FastPackageOptions([], copy_style=style)))
"""


def flytekit_package(root: Path, out: Path, deref: bool = False) -> Path:
    out.mkdir(parents=True)
    proc = subprocess.run(
        [str(VENV_BIN / "python"), "-c", FLYTEKIT_PACKAGE, str(root), str(out), "1" if deref else "0"],
        capture_output=True, text=True, timeout=100, check=False,
        env={**os.environ, "FLYTE_SDK_RICH_TRACEBACKS": "0"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.mark.flytekit
@pytest.mark.timeout(200)
@pytest.mark.parametrize("deref", [False, True])
def test_same_name_files_and_contents_as_flytekit(tmp_path: Path, deref: bool) -> None:
    root = write_tree(tmp_path / "src", TREE)
    git_init(root)
    outside = write_tree(tmp_path / "outside", {"shared.py": "S = 1\n", "pkg/lib.py": "L = 1\n"})
    (root / "wf" / "alias.py").symlink_to("tasks.py")
    (root / "wf" / "shared.py").symlink_to(outside / "shared.py")
    (root / "wf" / "broken.py").symlink_to(root / "nowhere")
    (root / "extlib").symlink_to(outside / "pkg", target_is_directory=True)
    ours = fast_package(root, tmp_path / "ours", deref_symlinks=deref)
    theirs = flytekit_package(root, tmp_path / "theirs", deref)
    assert ours.path.name == theirs.name  # fast<digest>.tar.gz: the same version-relevant digest
    theirs_members = members(theirs)
    assert list(ours.files) == list(theirs_members)  # same files, same order
    ours_contents, theirs_contents = contents(ours.path), contents(theirs)
    if not deref:  # flytekit keeps a link that points out of the archive; we store what it points to
        assert theirs_contents.pop("wf/shared.py") == f"-> {outside / 'shared.py'}".encode()
        assert ours_contents.pop("wf/shared.py") == b"S = 1\n"
        assert ours_contents["wf/alias.py"] == b"-> tasks.py"
    assert ours_contents == theirs_contents


DOCKER_PATTERNS = [
    "*.md", "docs", "docs/", "docs/*", "**/*.txt", "a/**/b.py", "/abs.py", "?.py", "*/tmp", "a/b", "**",
    "*", "a*", "**/x", "a/*.py", "./c.py", "x/../y.py", "[ab].py", "[!a].py", "[].py", "[a", "a/**",
    ".dockerignore",
]  # fmt: skip
DOCKER_PATHS = [
    "a.md", "sub/a.md", "docs/i.md", "docs", "x/docs/i.md", "t.txt", "a/b/t.txt", "a/b.py", "a/x/y/b.py",
    "abs.py", "z/abs.py", "c.py", "q/tmp/f", "a/b/c", "x/y.py", "y.py", "b.py", "q/x", ".dockerignore",
    "sub/.dockerignore", "[a", "].py",
]  # fmt: skip


@pytest.mark.flytekit
def test_dockerignore_matching_is_flytekits() -> None:
    """.dockerignore/.flyteignore patterns, alone and in pairs (with re-includes), match exactly the paths
    that docker-py's PatternMatcher (what flytekit uses) matches, its quirks included."""
    from docker.utils.build import PatternMatcher

    from flyte_ls.remote.packaging import _DockerPatterns

    singles = [[p] for p in DOCKER_PATTERNS]
    pairs = [[a, "!" + b] for a in DOCKER_PATTERNS[:12] for b in DOCKER_PATTERNS[:12]]
    for patterns in singles + pairs:
        theirs = PatternMatcher(patterns)
        ours = _DockerPatterns(patterns)
        for path in DOCKER_PATHS:
            assert ours.matches(path) == theirs.matches(path), (patterns, path)


# --- upload headers -----------------------------------------------------------------------------------------


def test_upload_headers() -> None:
    md5 = hashlib.md5(b"payload").digest()
    b64 = base64.b64encode(md5).decode()
    assert upload_headers(md5, 7, {}, "s3://bucket/x") == {"Content-Length": "7", "Content-MD5": b64}
    server = {"x-amz-meta-flytecontentmd5": md5.hex(), "Content-MD5": b64}
    assert upload_headers(md5, 7, server, "s3://b/x") == {"Content-Length": "7", **server}
    azure = upload_headers(md5, 7, {"x-ms-meta-flytecontentmd5": "h"}, "abfs://c@a/x")
    assert azure["x-ms-blob-type"] == "BlockBlob" and azure["x-ms-meta-flytecontentmd5"] == "h"
    with pytest.raises(ValueError, match="16 raw digest bytes"):
        upload_headers(md5.hex().encode(), 7, {}, "s3://b/x")


def test_file_md5_is_read_each_time(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    assert file_md5(path) == hashlib.md5(b"one").digest()
    path.write_bytes(b"two" * 100_000)
    assert file_md5(path) == hashlib.md5(b"two" * 100_000).digest()  # never a stale hash by path


# --- a real upload and task run on the local backend --------------------------------------------------------

E2E_TASKS = """
from flytekit import task


@task
def add(a: int, b: int) -> int:
    return a + b
"""
IMAGE = "ghcr.io/flyteorg/flytekit:py3.11-1.16.31"  # only written into the spec, never pulled
PROJECT, DOMAIN = "flytesnacks", "development"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    b = start_backend(tmp_path_factory.mktemp("packaging") / "state")
    yield b
    b.stop()


def put(url: str, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=body, method="PUT", headers=headers)
    with NO_PROXY.open(req, timeout=30) as resp:
        return int(resp.status)


@pytest.mark.flytekit
@pytest.mark.timeout(240)
def test_uploaded_archive_runs_a_registered_task(backend: Backend, tmp_path: Path) -> None:
    import grpc
    from flyteidl.admin import execution_pb2, task_pb2
    from flyteidl.core import execution_pb2 as core_execution_pb2
    from flyteidl.core import identifier_pb2, literals_pb2
    from flyteidl.service import admin_pb2_grpc, dataproxy_pb2, dataproxy_pb2_grpc

    root = write_tree(tmp_path / "src", {"e2epkg/__init__.py": "", "e2epkg/tasks.py": E2E_TASKS})
    ours: Package = fast_package(root, tmp_path / "ours")
    specs_tgz = tmp_path / "specs.tgz"
    proc = subprocess.run(
        [str(VENV_BIN / "pyflyte"), "--pkgs", "e2epkg", "package", "--image", IMAGE, "--copy", "all",
         "-f", "-o", str(specs_tgz)],
        cwd=root, capture_output=True, text=True, timeout=150, check=False,
        env={**os.environ, "FLYTECTL_CONFIG": str(tmp_path / "none.yaml")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with tarfile.open(specs_tgz) as tar:
        names = tar.getnames()
        spec_member = next(n for n in names if n.endswith("_1.pb"))
        spec_file = tar.extractfile(spec_member)
        assert spec_file is not None
        spec = task_pb2.TaskSpec.FromString(spec_file.read())
    assert ours.path.name in names  # flytekit named its archive of this tree as we did

    with grpc.insecure_channel(f"127.0.0.1:{backend.port}") as channel:
        md5 = file_md5(ours.path)
        location = dataproxy_pb2_grpc.DataProxyServiceStub(channel).CreateUploadLocation(
            dataproxy_pb2.CreateUploadLocationRequest(
                project=PROJECT, domain=DOMAIN, filename=ours.path.name, content_md5=md5,
                add_content_md5_metadata=True,
            ),
            timeout=10,
        )  # fmt: skip
        body = ours.path.read_bytes()
        headers = upload_headers(md5, len(body), dict(location.headers), location.native_url)
        assert put(location.signed_url, body, headers) in (200, 201)

        template = spec.template
        ident = identifier_pb2.Identifier(
            resource_type=identifier_pb2.TASK,
            project=PROJECT,
            domain=DOMAIN,
            name=template.id.name,
            version="p1",
        )
        template.id.CopyFrom(ident)
        args = [a.replace("{{ .remote_package_path }}", location.native_url) for a in template.container.args]
        assert args != list(template.container.args), "the spec should reference the fast-register archive"
        del template.container.args[:]
        template.container.args.extend(args)
        admin = admin_pb2_grpc.AdminServiceStub(channel)
        admin.CreateTask(task_pb2.TaskCreateRequest(id=ident, spec=spec), timeout=10)
        inputs = literals_pb2.LiteralMap()
        inputs.literals["a"].scalar.primitive.integer = 2
        inputs.literals["b"].scalar.primitive.integer = 40
        created = admin.CreateExecution(
            execution_pb2.ExecutionCreateRequest(
                project=PROJECT,
                domain=DOMAIN,
                spec=execution_pb2.ExecutionSpec(launch_plan=ident),
                inputs=inputs,
            ),
            timeout=10,
        )
        phases = core_execution_pb2.WorkflowExecution
        deadline = time.monotonic() + 180
        while True:
            execution = admin.GetExecution(
                execution_pb2.WorkflowExecutionGetRequest(id=created.id), timeout=10
            )
            if execution.closure.phase in (phases.SUCCEEDED, phases.FAILED, phases.ABORTED, phases.TIMED_OUT):
                break
            assert time.monotonic() < deadline, "the execution did not finish within 180 s"
            time.sleep(0.5)
        assert execution.closure.phase == phases.SUCCEEDED, execution.closure.error.message
        data = admin.GetExecutionData(
            execution_pb2.WorkflowExecutionGetDataRequest(id=created.id), timeout=10
        )
        assert data.full_outputs.literals["o0"].scalar.primitive.integer == 42
