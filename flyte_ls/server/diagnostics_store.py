"""Diagnostics kept per (source, uri) and merged before publishing.

Each producer (``flyte`` lints now, ``flyte-exec`` execution status later) replaces only its own diagnostics;
a publish always sends the union, so one producer never wipes out another's.
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from flyte_ls.server.documents import uri_key


class DiagnosticStore:
    def __init__(self) -> None:
        self._by_uri: dict[str, dict[str, list[types.Diagnostic]]] = {}
        self._uri_as_sent: dict[str, str] = {}

    def set(self, source: str, uri: str, diagnostics: Sequence[types.Diagnostic]) -> None:
        key = uri_key(uri)
        self._uri_as_sent[key] = uri
        sources = self._by_uri.setdefault(key, {})
        if diagnostics:
            sources[source] = list(diagnostics)
        else:
            sources.pop(source, None)

    def clear(self, source: str, uri: str) -> None:
        self.set(source, uri, [])

    def merged(self, uri: str) -> list[types.Diagnostic]:
        sources = self._by_uri.get(uri_key(uri), {})
        out: list[types.Diagnostic] = []
        for source in sorted(sources):
            out.extend(sources[source])
        return out

    def sources(self, uri: str) -> list[str]:
        return sorted(self._by_uri.get(uri_key(uri), {}))

    def uris(self) -> list[str]:
        """URIs (as the client sent them) that currently have diagnostics from any source."""
        return [self._uri_as_sent[k] for k, v in self._by_uri.items() if v]

    def forget_empty(self) -> None:
        for key in [k for k, v in self._by_uri.items() if not v]:
            del self._by_uri[key]
            self._uri_as_sent.pop(key, None)
