"""Real headless Chromium (Debian's ``/usr/bin/chromium``) driven by Python Playwright (where it is and its
flags: tests/local/chromium_launch.py, shared with the tests that run it without Playwright): its timeouts and
:class:`Browse`, a browser context that records what its pages did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from chromium_launch import LOCAL_HOSTS

LAUNCH_TIMEOUT_MS = 60_000
ACTION_TIMEOUT_MS = 20_000

# Runs in every document before the page's own code: CSP violations are reported to the test.
_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (ev) => {
  window.__flyteLsCsp(`${ev.violatedDirective} blocked ${ev.blockedURI} (${ev.sourceFile}:${ev.lineNumber})`);
});
"""


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "about", "blob"):
        return True
    return parts.hostname in LOCAL_HOSTS


@dataclass
class Browse:
    """One browser context and what its pages did."""

    context: Any  # playwright BrowserContext
    requests: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    csp: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # URL prefixes a page's CSP is expected to block

    def new_page(self) -> Any:
        page = self.context.new_page()
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        return page

    def _route(self, route: Any) -> None:
        url = route.request.url
        self.requests.append(url)
        if is_local(url):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort("blockedbyclient")

    def expect_blocked(self, prefix: str) -> None:
        """A page's Content-Security-Policy blocks URLs under ``prefix`` (the browser never requests them):
        the violations it reports and the console errors it logs for them are expected."""
        self.blocked.append(prefix)

    def _expected(self, text: str) -> bool:
        for prefix in self.blocked:
            if f"blocked {prefix}" in text:  # the violation (the listener's report)
                return True
            if f"'{prefix}" in text and "Content Security Policy" in text:  # the console error about it
                return True
        return False

    def problems(self) -> list[str]:
        out = [f"request outside this machine: {u}" for u in self.outside]
        out += [x for x in self.errors if not self._expected(x)]
        return out + [f"CSP violation: {v}" for v in self.csp if not self._expected(v)]


def open_context(browser: Any, **options: Any) -> Browse:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    browse = Browse(context)
    context.expose_function("__flyteLsCsp", lambda text: browse.csp.append(str(text)))
    context.add_init_script(_CSP_LISTENER)
    context.route("**/*", browse._route)
    return browse
