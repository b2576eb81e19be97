"""Fast-register packaging: a deterministic ``fast<md5>.tar.gz`` of a source tree, and the upload headers.

The archive's name is the digest flytekit computes for the same files (md5 over each file's bytes, then its
relative path with the separators removed, in sorted path order), so a tree packaged here and by
``pyflyte package --copy all`` gets the same ``fast<digest>.tar.gz`` name. The bytes are reproducible:
entries in that sorted order, mtime 1980-01-01 UTC, uid/gid 0, empty user/group names, no extra pax
headers (as flytekit), and - unlike flytekit, whose archive changes with the umask - modes normalised to
0644/0755; gzip with mtime 0 and no file name in its header.

Two modes:
- ``whole-tree`` (flytekit's ``--copy all``): every file under the source root except ``.git``, sockets,
  broken links and what the ignore rules exclude: ``.gitignore`` (inside a git work tree only, as flytekit:
  the files from the repository's top down, nested ones, ``.git/info/exclude``), ``.dockerignore`` and
  ``.flyteignore`` (docker-py's matching, as flytekit), the standard ignores (``*.pyc``,
  ``__pycache__``, ``.cache``) and the caller's extra patterns;
- ``loaded-modules`` (``--copy auto``): only the given module files under the root; no ignore rules, as
  flytekit.

Symlinks: a link to a file inside the root is kept as a link (with a relative target); a link whose target is
outside the root is stored as the file it points to, so nothing in the archive points out of the code
directory; linked directories are not descended unless ``deref_symlinks`` (then with a loop guard).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # imported where an archive is built: importing the client must not cost them
    import gzip

    from pathspec import GitIgnoreSpec

FAST_PREFIX = "fast"
FAST_SUFFIX = ".tar.gz"
ARCHIVE_MTIME = 315532800  # 1980-01-01T00:00:00Z: what flytekit writes (zip-era epoch, accepted by every tar)
STANDARD_IGNORES = ("*.pyc", ".cache", ".cache/*", "__pycache__/*", "**/__pycache__/*")
EXCLUDED_DIRS = frozenset({".git"})
_BLOCK = 1 << 16

Mode = Literal["whole-tree", "loaded-modules"]


class PackagingError(ValueError):
    """The source tree cannot be packaged; the message says what to change."""


@dataclass(frozen=True)
class Package:
    """A fast-register archive: where it is, flytekit's digest of its files, and the files (relative POSIX
    paths, in archive order)."""

    path: Path
    digest: str
    files: tuple[str, ...]


def fast_package(
    source_root: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    mode: Mode = "whole-tree",
    modules: Iterable[str | os.PathLike[str]] | None = None,
    deref_symlinks: bool = False,
    ignores: Sequence[str] = (),
    keep_default_ignores: bool = True,
) -> Package:
    """Package ``source_root`` into ``output_dir/fast<digest>.tar.gz`` and return it with its file list.

    ``mode="loaded-modules"`` takes the files of ``modules`` (paths of imported modules' files) that lie under
    the root; ``"whole-tree"`` walks the root through the ignore rules (``ignores`` are extra
    .dockerignore-style patterns, checked before the defaults; ``keep_default_ignores=False`` drops the
    ignore files and standard ignores). The same files give the same bytes, whatever their mtimes, owners,
    umask or walk order.
    """
    root = Path(source_root).resolve()
    if not root.is_dir():
        raise PackagingError(
            f"the source root {root} is not a directory; pass the folder your packages are in"
        )
    if mode == "whole-tree":
        rel_paths = _walk(root, deref_symlinks, _IgnoreRules(root, ignores, keep_default_ignores))
    elif mode == "loaded-modules":
        if modules is None:
            raise PackagingError("mode='loaded-modules' needs modules=[paths of the imported modules' files]")
        rel_paths = _module_files(root, Path(os.path.abspath(source_root)), modules)
    else:
        raise PackagingError(f"unknown packaging mode {mode!r}; use 'whole-tree' or 'loaded-modules'")
    rel_paths.sort()
    digest = files_digest(root, rel_paths)
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / f"{FAST_PREFIX}{digest}{FAST_SUFFIX}"
    tmp = archive.with_name(f".{archive.name}.{os.getpid()}.tmp")
    import gzip

    try:
        with open(tmp, "wb") as out:
            # filename="" and a fileobj without a usable name: no name in the gzip header; mtime=0: no time
            with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
                _tar(gz, root, rel_paths, deref_symlinks)
        os.replace(tmp, archive)
    finally:
        tmp.unlink(missing_ok=True)
    return Package(archive, digest, tuple(PurePosixPath(*Path(p).parts).as_posix() for p in rel_paths))


def files_digest(root: Path, rel_paths: Sequence[str]) -> str:
    """flytekit's digest of a file list: md5 over each file's bytes followed by its relative path with the
    separators removed, in the given order."""
    hasher = hashlib.md5()
    for rel in rel_paths:
        with open(root / rel, "rb") as f:
            while block := f.read(_BLOCK):
                hasher.update(block)
        hasher.update("".join(rel.split(os.sep)).encode())
    return hasher.hexdigest()


# --- upload (the PUT half of upload_file) -----------------------------------------------------------------


def file_md5(path: str | os.PathLike[str]) -> bytes:
    """The raw 16-byte md5 of a file's current content (read now: never cached by path, unlike flytekit)."""
    hasher = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            hasher.update(block)
    return hasher.digest()


def upload_headers(
    md5: bytes, content_length: int, server_headers: Mapping[str, str], native_url: str
) -> dict[str, str]:
    """The headers of the PUT to a CreateUploadLocation ``signed_url``: Content-Length, Content-MD5 (base64 of
    the raw md5), ``x-ms-blob-type: BlockBlob`` for Azure, then every header the server returned (they win:
    the signature covers them, e.g. ``x-amz-meta-flytecontentmd5``)."""
    if len(md5) != 16:
        raise ValueError(f"md5 must be the 16 raw digest bytes, got {len(md5)} bytes")
    headers = {"Content-Length": str(content_length), "Content-MD5": base64.b64encode(md5).decode()}
    if native_url.startswith("abfs://"):
        headers["x-ms-blob-type"] = "BlockBlob"
    headers.update(server_headers)
    return headers


# --- file selection ---------------------------------------------------------------------------------------


def _walk(root: Path, deref_symlinks: bool, rules: _IgnoreRules) -> list[str]:
    files: list[str] = []
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, topdown=True, followlinks=deref_symlinks):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        if deref_symlinks:
            st = os.stat(dirpath)
            if (st.st_dev, st.st_ino) in seen:
                dirnames[:] = []
                continue
            seen.add((st.st_dev, st.st_ino))
        rules.enter(dirpath, rel_dir)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in EXCLUDED_DIRS and not rules.git_ignored(os.path.join(rel_dir, d), True)
        )
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.join(rel_dir, name)
            try:
                st = os.stat(full)  # follows links: a broken one is skipped, as flytekit
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and not rules.ignored(rel):
                files.append(rel)
    return files


def _module_files(root: Path, given_root: Path, modules: Iterable[str | os.PathLike[str]]) -> list[str]:
    found: set[str] = set()
    for module in modules:
        path = Path(os.path.abspath(module))  # normalised: no `..` can lead out of the root
        if not path.is_file():
            raise PackagingError(
                f"the module file {path} does not exist; pass the __file__ of imported modules"
            )
        # the root as given first (a module file that is a link stays a link), then both resolved
        for candidate, base in ((path, given_root), (path.resolve(), root)):
            if candidate.is_relative_to(base):
                found.add(str(candidate.relative_to(base)))
                break
        # otherwise an installed or outside module: not the user's code, skipped as flytekit does
    return list(found)


class _IgnoreRules:
    """flytekit's ignore group: extra patterns, .gitignore, .dockerignore, standard ignores, .flyteignore."""

    def __init__(self, root: Path, extra: Sequence[str], defaults: bool) -> None:
        self.root = root
        self.extra = _DockerPatterns(extra, keep_dockerignore=False)
        self.defaults = defaults
        self.docker = _DockerPatterns(_read_lines(root / ".dockerignore") if defaults else ())
        self.flyte = _DockerPatterns(_read_lines(root / ".flyteignore") if defaults else ())
        # (directory relative to the root, prefix that makes a root-relative path relative to the file's
        # directory, rules): .gitignore applies only inside a git work tree, as flytekit's `git ls-files`
        self.git: list[tuple[str, str, GitIgnoreSpec]] = []
        top = _git_top(root) if defaults else None
        self.in_git = top is not None
        if top is not None:
            self._add_git("", _prefix(root, top), top / ".git" / "info" / "exclude")
            ancestors = [top, *(p for p in reversed(root.parents) if p != top and top in p.parents)]
            for ancestor in ancestors:
                if ancestor != root:
                    self._add_git("", _prefix(root, ancestor), ancestor / ".gitignore")

    def _add_git(self, rel_dir: str, prefix: str, path: Path) -> None:
        lines = _read_lines(path, keep_comments=True)
        if lines:
            from pathspec import GitIgnoreSpec

            self.git.append((rel_dir, prefix, GitIgnoreSpec.from_lines(lines)))

    def enter(self, dirpath: str, rel_dir: str) -> None:
        if self.in_git:
            self._add_git(rel_dir, "", Path(dirpath) / ".gitignore")

    def git_ignored(self, rel: str, is_dir: bool = False) -> bool:
        posix = Path(rel).as_posix() + ("/" if is_dir else "")
        for base, prefix, spec in reversed(self.git):  # the deepest .gitignore that has a say decides
            if base:
                base_posix = Path(base).as_posix() + "/"
                if not posix.startswith(base_posix):
                    continue
                result = spec.check_file(posix[len(base_posix) :])
            else:
                result = spec.check_file(prefix + posix)
            if result.include is not None:
                return bool(result.include)
        return False

    def ignored(self, rel: str) -> bool:
        posix = Path(rel).as_posix()
        if self.extra.matches(posix):
            return True
        if not self.defaults:
            return False
        return (
            self.git_ignored(rel)
            or self.docker.matches(posix)
            or any(fnmatch(rel, p) for p in STANDARD_IGNORES)
            or self.flyte.matches(posix)
        )


def _git_top(root: Path) -> Path | None:
    for candidate in (root, *root.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _prefix(root: Path, ancestor: Path) -> str:
    rel = root.relative_to(ancestor).as_posix()
    return "" if rel == "." else rel + "/"


def _read_lines(path: Path, keep_comments: bool = False) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return []
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and (keep_comments or not line.startswith("#"))]


class _DockerPatterns:
    """.dockerignore matching as flytekit does it (docker-py's PatternMatcher), for .dockerignore,
    .flyteignore and extra patterns: every pattern is relative to the root, ``.``/``..`` and outer slashes
    are cleaned away, ``*``/``?``/``[...]`` stay within one path component, ``**`` spans components, a
    pattern also excludes what lies below a directory it matches (with as many components as the pattern
    has), the last matching pattern decides (``!`` re-includes) and the root's ``.dockerignore`` is always
    kept."""

    def __init__(self, patterns: Iterable[str], *, keep_dockerignore: bool = True) -> None:
        self.rules: list[tuple[bool, int, re.Pattern[str]]] = []  # (re-include, components, regex)
        for pattern in [*patterns, *(["!.dockerignore"] if keep_dockerignore else [])]:
            negate = pattern.startswith("!")
            parts = _clean_components(pattern[1:] if negate else pattern)
            if parts:
                self.rules.append((negate, len(parts), re.compile(_docker_regex("/".join(parts)))))

    def matches(self, posix: str) -> bool:
        parents = [p for p in posix.split("/")[:-1] if p and p != "."]
        matched = False
        for negate, count, regex in self.rules:
            hit = regex.match(posix) is not None
            if not hit and parents and count <= len(parents):
                hit = regex.match("/".join(parents[:count])) is not None
            if hit:
                matched = not negate
        return matched


def _clean_components(pattern: str) -> list[str]:
    parts: list[str] = []
    for part in pattern.strip().split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return parts


def _docker_regex(pattern: str) -> str:
    out, i, n = ["^"], 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*" and i < n and pattern[i] == "*":
            i += 1
            if i < n and pattern[i] == "/":
                i += 1
            out.append(".*" if i >= n else "(.*/)?")
        elif c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (close := _class_end(pattern, i)) is not None:
            body = pattern[i:close].replace("\\", "\\\\")
            if body.startswith("!"):
                body = "^" + body[1:]
            elif body.startswith("^"):
                body = "\\" + body
            out.append(f"[{body}]")
            i = close + 1
        else:
            out.append(re.escape(c))
    out.append("$")
    return "".join(out)


def _class_end(pattern: str, start: int) -> int | None:
    """The index of the ``]`` closing a character class opened just before ``start`` (a ``]`` right after the
    opening or its ``!`` is a member), or None when it is never closed (then ``[`` is literal)."""
    j = start
    if j < len(pattern) and pattern[j] == "!":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    close = pattern.find("]", j)
    return None if close < 0 else close


# --- archive ----------------------------------------------------------------------------------------------


def _tar(out: gzip.GzipFile, root: Path, rel_paths: Sequence[str], deref_symlinks: bool) -> None:
    import tarfile

    root_real = os.path.realpath(root)
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in rel_paths:
            full = root / rel
            info = tarfile.TarInfo(Path(rel).as_posix())
            info.mtime = ARCHIVE_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            link = None if deref_symlinks else _internal_link(root_real, full, rel)
            if link is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = link
                info.mode = 0o777
                tar.addfile(info)
                continue
            st = os.stat(full)
            info.mode = 0o755 if st.st_mode & 0o111 else 0o644
            info.size = st.st_size
            with open(full, "rb") as f:
                tar.addfile(info, f)


def _internal_link(root_real: str, full: Path, rel: str) -> str | None:
    """The relative target to store for a symlink whose target is inside the root; None when ``full`` is not
    a link or points outside (then the file's content is stored instead)."""
    if not full.is_symlink():
        return None
    target = os.path.realpath(full)
    if os.path.commonpath([target, root_real]) != root_real:
        return None
    start = os.path.dirname(os.path.join(root_real, rel))
    return PurePosixPath(*Path(os.path.relpath(target, start)).parts).as_posix()
