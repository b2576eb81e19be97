"""Serialised JSON per entity, reused while an entity has not changed.

After a one-line edit in a 500-entity module the incremental analyzer hands back the unchanged entities as the
very same objects, so a response is mostly a join of cached strings: no dicts to build, nothing to serialise.
When it rebuilds entities (a signature change re-resolves the workflows and launch plans that use it), an
entity equal to the previous one of the same name reuses its string too (dataclass equality costs ~2 µs,
rendering ~12 µs). Equality covers code point positions only, so it is used only when those equal the client's
units (an ASCII document, or UTF-32).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flyte_ls.analysis.model import Entity


class FragmentCache:
    def __init__(self) -> None:
        self._by_id: dict[int, tuple[Entity, str]] = {}

    def render(self, entities: Sequence[Entity], make: Callable[[Entity], str], compare: bool) -> str:
        """A JSON array of ``make(entity)`` (a comma-separated run of JSON values, or "" for none) for every
        entity; only new or changed entities are rendered."""
        old = self._by_id
        by_name = {e.name: (e, text) for e, text in old.values()} if compare else {}
        new: dict[int, tuple[Entity, str]] = {}
        parts = []
        for e in entities:
            hit = old.get(id(e))
            if hit is not None and hit[0] is e:
                text = hit[1]
            else:
                same = by_name.get(e.name)
                text = same[1] if same is not None and same[0] == e else make(e)
            new[id(e)] = (e, text)
            if text:  # an entity may have nothing to show (e.g. every lens kind switched off)
                parts.append(text)
        self._by_id = new
        return "[" + ",".join(parts) + "]"


class RenderCache:
    """Per document: a fragment cache and the last rendered text per variant (e.g. lenses, entities)."""

    def __init__(self) -> None:
        self._fragments: dict[str, FragmentCache] = {}
        self._rendered: dict[str, tuple[int | None, str]] = {}

    def get(
        self,
        variant: str,
        version: int | None,
        entities: Callable[[], Sequence[Entity]],
        make: Callable[[Entity], str],
        compare: bool,
    ) -> str:
        hit = self._rendered.get(variant)
        if hit is not None and hit[0] == version:
            return hit[1]
        cache = self._fragments.setdefault(variant, FragmentCache())
        text = cache.render(entities(), make, compare)
        self._rendered[variant] = (version, text)
        return text

    def clear(self) -> None:
        self._fragments.clear()
        self._rendered.clear()
