"""Print the README's generated tables (settings, lint rules), or rewrite them in place with ``--write``.

Each table has one source of truth: ``flyte_ls.server.settings`` or ``flyte_ls.analysis.lints.registry``.
``tests/test_readme.py`` fails when README.md and these sources disagree.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from flyte_ls.analysis.lints.registry import RULES
from flyte_ls.server.settings import settings_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
MARKERS = {
    "settings": ("<!-- settings-table:start -->", "<!-- settings-table:end -->"),
    "rules": ("<!-- rules-table:start -->", "<!-- rules-table:end -->"),
}


def rules_table() -> str:
    rows = ["| code | name | severity | flags | how flytekit fails |", "|---|---|---|---|---|"]
    for rule in RULES:
        cells = [rule.code, rule.name, rule.severity.value, rule.summary, rule.failure]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def tables() -> dict[str, str]:
    return {"settings": settings_markdown().strip(), "rules": rules_table()}


def render(readme: str) -> str:
    """The README text with each generated table replaced by its current version."""
    for key, text in tables().items():
        start, end = MARKERS[key]
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        if not pattern.search(readme):
            raise SystemExit(f"README.md has no {start} ... {end} block")
        readme = pattern.sub(lambda _m, t=text, s=start, e=end: f"{s}\n{t}\n{e}", readme)
    return readme


def main(argv: list[str]) -> int:
    if "--write" in argv:
        README.write_text(render(README.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    for key, text in tables().items():
        print(f"## {key}\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
