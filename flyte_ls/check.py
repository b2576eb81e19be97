"""``flyte-ls check PATH...``: the lint rules on the command line (and as a pre-commit hook).

Output is ruff style, ``path:line:col: CODE message`` (1-based line and column), sorted; a summary goes
to stderr. Exit status: 1 when any error-severity finding (a syntax error is ``FL000``), 0 otherwise, 2 for
bad usage. Entities imported from sibling modules are resolved from the same source root, lazily, without
importing anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from flyte_ls.analysis import ModuleAnalysis, ModuleLookup, analyze, module_name_for, source_root_for
from flyte_ls.analysis.model import Finding, Severity

MAX_BYTES = 5 * 1024 * 1024
SKIPPED_DIRS = frozenset({".venv", "venv", "__pycache__", "node_modules", "site-packages"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", help="Python files or folders to check")
    parser.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text (path:line:col: CODE message) or json",
    )
    parser.add_argument(
        "--select",
        metavar="CODES",
        default="",
        help="only these codes or prefixes, comma-separated (FL01,FL020)",
    )
    parser.add_argument(
        "--ignore", metavar="CODES", default="", help="skip these codes or prefixes, comma-separated"
    )
    parser.add_argument(
        "--no-gitignore", action="store_true", help="also check files that .gitignore files exclude"
    )


@dataclass(frozen=True)
class Located:
    path: str
    finding: Finding

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        start = self.finding.range.start
        return (self.path, start.line, start.character, self.finding.code)

    def text(self) -> str:
        start = self.finding.range.start
        return (
            f"{self.path}:{start.line + 1}:{start.character + 1}: {self.finding.code} {self.finding.message}"
        )

    def json(self) -> dict[str, object]:
        f = self.finding
        return {
            "path": self.path,
            "line": f.range.start.line + 1,
            "column": f.range.start.character + 1,
            "endLine": f.range.end.line + 1,
            "endColumn": f.range.end.character + 1,
            "code": f.code,
            "severity": f.severity.value,
            "message": f.message,
            "entity": f.entity,
        }


# -- files ---------------------------------------------------------------------------------------------------
class _Ignores:
    """``.gitignore`` files of the walked folders and the repository, applied relative to their folder."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._specs:
            spec = None
            gitignore = folder / ".gitignore"
            if self.enabled and gitignore.is_file():
                try:
                    lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
                    spec = pathspec.GitIgnoreSpec.from_lines(lines)
                except (OSError, ValueError):
                    spec = None
            self._specs[folder] = spec
        return self._specs[folder]

    def ignored(self, path: Path, is_dir: bool, folders: Iterable[Path]) -> bool:
        """Whether a .gitignore in one of ``folders`` (absolute ancestors of ``path``) excludes it."""
        if not self.enabled:
            return False
        for folder in folders:
            spec = self._spec(folder)
            if spec is None:
                continue
            relative = path.relative_to(folder).as_posix()
            if spec.match_file(relative + ("/" if is_dir else "")):
                return True
        return False


def _repository_root(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def python_files(root: Path, ignores: _Ignores) -> Iterator[Path]:
    """``*.py`` under ``root``, skipping virtualenvs, hidden folders, caches and git-ignored paths; sorted."""
    root_abs = Path(os.path.abspath(root))
    top = _repository_root(root_abs)
    # .gitignore files that apply: the repository's, and those between it and each walked folder.
    outer = [p for p in (root_abs.parent, *root_abs.parents) if top is not None and _is_within(p, top)]
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        here_abs = Path(os.path.abspath(folder))
        chain = [*outer, *(p for p in (here_abs, *here_abs.parents) if _is_within(p, root_abs))]
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_DIRS
            and not d.startswith(".")
            and not ignores.ignored(here_abs / d, True, chain)
        )
        for name in sorted(files):
            if name.endswith(".py") and not ignores.ignored(here_abs / name, False, chain):
                yield here / name


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


# -- analysis ------------------------------------------------------------------------------------------------
class SiblingLookup:
    """Resolves dotted module names to analyses of files under one source root (cached, entities only)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Path, str], ModuleAnalysis | None] = {}

    def for_root(self, root: Path) -> ModuleLookup:
        def lookup(module: str) -> ModuleAnalysis | None:
            key = (root, module)
            if key not in self._cache:
                self._cache[key] = self._load(root, module)
            return self._cache[key]

        return lookup

    @staticmethod
    def _load(root: Path, module: str) -> ModuleAnalysis | None:
        if not module or any(not part.isidentifier() for part in module.split(".")):
            return None
        base = root.joinpath(*module.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            try:
                if not candidate.is_file() or candidate.stat().st_size > MAX_BYTES:
                    continue
                source = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return None
            return analyze(source, module, path=str(candidate), lint=False)
        return None


def check_file(path: Path, display: str, lookups: SiblingLookup) -> tuple[list[Finding] | None, str | None]:
    """Findings of one file, or None and the reason it was skipped."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return None, f"skipped: {size / 1024 / 1024:.1f} MB is over the 5 MB limit"
        data = path.read_bytes()
    except OSError as exc:
        return None, f"skipped: cannot read it ({exc.strerror or exc})"
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"skipped: not UTF-8 text (byte {exc.start})"
    lookup = lookups.for_root(source_root_for(path))
    analysis = analyze(source, module_name_for(path), path=display, lookup=lookup)
    findings = list(analysis.findings)
    if analysis.syntax_error is not None and analysis.syntax_error not in findings:
        findings.append(analysis.syntax_error)
    return findings, None


def _codes(text: str) -> tuple[str, ...]:
    return tuple(c.strip().upper() for c in text.split(",") if c.strip())


def _selected(code: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    if select and not any(code.startswith(s) for s in select):
        return False
    return not any(code.startswith(i) for i in ignore)


def _targets(paths: list[str], no_gitignore: bool) -> tuple[list[tuple[Path, str]], list[str]]:
    ignores = _Ignores(enabled=not no_gitignore)
    found: list[tuple[Path, str]] = []
    missing: list[str] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = list(python_files(path, ignores))
        elif path.is_file():
            files = [path]
        else:
            missing.append(raw)
            continue
        for file in files:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                found.append((file, os.path.normpath(str(file))))
    return found, missing


def run(args: argparse.Namespace) -> int:
    paths: list[str] = list(args.paths or [])
    if not paths:
        print("flyte-ls check: give at least one file or folder, e.g. `flyte-ls check src/`", file=sys.stderr)
        return 2
    targets, missing = _targets(paths, bool(getattr(args, "no_gitignore", False)))
    if missing:
        for raw in missing:
            print(f"flyte-ls check: {raw}: no such file or folder", file=sys.stderr)
        return 2
    select, ignore = _codes(getattr(args, "select", "")), _codes(getattr(args, "ignore", ""))
    lookups = SiblingLookup()
    located: list[Located] = []
    skipped = 0
    for path, display in targets:
        findings, reason = check_file(path, display, lookups)
        if findings is None:
            skipped += 1
            print(f"{display}: {reason}", file=sys.stderr)
            continue
        located.extend(Located(display, f) for f in findings if _selected(f.code, select, ignore))
    located.sort(key=lambda item: item.sort_key)
    if args.format == "json":
        json.dump([item.json() for item in located], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for item in located:
            print(item.text())
    errors = sum(1 for item in located if item.finding.severity == Severity.ERROR)
    print(_summary(errors, len(located) - errors, len(targets) - skipped, skipped), file=sys.stderr)
    return 1 if errors else 0


def _summary(errors: int, others: int, checked: int, skipped: int) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    tail = f" ({plural(skipped, 'file')} skipped)" if skipped else ""
    if not errors and not others:
        return f"flyte-ls: no problems in {plural(checked, 'file')}{tail}"
    return (
        f"flyte-ls: {plural(errors, 'error')}, {plural(others, 'warning')} in {plural(checked, 'file')}{tail}"
    )
