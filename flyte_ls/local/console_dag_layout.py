"""Server-side layout of a workflow graph for the console (:mod:`.console_dag` draws it).

A layered drawing, left to right, in four steps, all deterministic (ties go to the order nodes were given in):

1. **Order and layers.** A topological order (Kahn's algorithm, smallest input index first); each node's layer
   is the longest path to it from a source. A cycle (compiled workflows have none) is broken at the node
   that comes first in the input, and its back edges are drawn but ignore the layering.
2. **Long edges** get one virtual point per layer they cross, so they can be untangled and routed around
   boxes; an edge spanning more than ``MAX_SPAN`` layers, or past the budget of virtual points (a workflow
   whose every node reads an input of the workflow would otherwise need n² of them), is drawn directly.
3. **Crossings.** Barycenter sweeps, down then up, keep the ordering with the fewest crossings (counted
   exactly with a Fenwick tree).
4. **Coordinates.** Layers are columns; within a column each vertex wants the mean height of its
   neighbours in the previous (then next) column, and the nearest positions that keep the order and the
   spacing are found by isotonic regression (pool adjacent violators). Edges are cubic curves with
   horizontal tangents through their virtual points.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

GAP_X = 56  # between columns
GAP_Y = 18  # between boxes in a column
GAP_VIRTUAL = 8  # between a virtual point and its neighbours
MARGIN = 12
MAX_SPAN = 12  # layers an edge may cross with virtual points
SWEEPS = 4  # down + up barycenter sweeps
PLACEMENT_PASSES = 4


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass
class Layout:
    """Boxes by node id, one path (SVG ``d``) per edge in the order given, the drawing's size."""

    width: float
    height: float
    boxes: dict[str, Box]
    paths: list[tuple[str, str, str]]
    order: list[str]  # reading order: column by column, top to bottom (topological when there is no cycle)
    layers: dict[str, int]
    crossings: int


def topological(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[str]:
    """``ids`` in topological order of ``edges`` (cycles broken at the earliest node), ties by input order"""
    index = {n: i for i, n in enumerate(ids)}
    succ: list[list[int]] = [[] for _ in ids]
    indeg = [0] * len(ids)
    for u, v in _clean(index, edges):
        succ[index[u]].append(index[v])
        indeg[index[v]] += 1
    ready = [i for i, d in enumerate(indeg) if d == 0]
    heapq.heapify(ready)
    done = [False] * len(ids)
    out: list[int] = []
    nxt_unseen = 0
    while len(out) < len(ids):
        if not ready:  # a cycle: take the earliest node not placed yet
            while done[nxt_unseen]:
                nxt_unseen += 1
            heapq.heappush(ready, nxt_unseen)
        i = heapq.heappop(ready)
        if done[i]:
            continue
        done[i] = True
        out.append(i)
        for j in succ[i]:
            indeg[j] -= 1
            if indeg[j] == 0 and not done[j]:
                heapq.heappush(ready, j)
    return [ids[i] for i in out]


def _clean(index: Mapping[str, int], edges: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Edges between known nodes, without self loops and duplicates, in their first order."""
    seen: set[tuple[str, str]] = set()
    out = []
    for edge in edges:
        u, v = edge
        if u in index and v in index and u != v and edge not in seen:
            seen.add(edge)
            out.append(edge)
    return out


def layout(
    ids: Sequence[str], sizes: Mapping[str, tuple[float, float]], edges: Sequence[tuple[str, str]]
) -> Layout:
    """Lay out nodes ``ids`` (sizes ``(w, h)``) with ``edges`` (upstream, downstream) left to right."""
    index = {n: i for i, n in enumerate(ids)}
    edges = _clean(index, edges)
    order = topological(ids, edges)
    pos = {n: k for k, n in enumerate(order)}
    layer: dict[str, int] = dict.fromkeys(ids, 0)
    preds: dict[str, list[str]] = {n: [] for n in ids}
    for u, v in edges:
        preds[v].append(u)
    for n in order:
        forward = [layer[u] + 1 for u in preds[n] if pos[u] < pos[n]]
        layer[n] = max(forward, default=0)
    g = _Graph(ids, sizes, layer)
    chains = [g.chain(u, v, forward=pos[u] < pos[v]) for u, v in edges]
    crossings = g.reduce_crossings()
    g.place()
    paths = [(u, v, g.path(chain)) for (u, v), chain in zip(edges, chains, strict=True)]
    boxes = {n: g.box(i) for i, n in enumerate(ids)}
    reading = sorted(ids, key=lambda n: (layer[n], boxes[n].y, index[n]))
    return Layout(g.width, g.height, boxes, paths, reading, layer, crossings)


class _Graph:
    """Vertices 0..n-1 are the nodes, n.. the virtual points of long edges."""

    def __init__(self, ids: Sequence[str], sizes: Mapping[str, tuple[float, float]], layer: dict[str, int]):
        self.n = len(ids)
        self._ids = {node_id: i for i, node_id in enumerate(ids)}
        self.w = [float(sizes[i][0]) for i in ids]
        self.h = [float(sizes[i][1]) for i in ids]
        self.layer = [layer[i] for i in ids]
        self.up: list[list[int]] = [[] for _ in ids]  # neighbours in the previous layer
        self.down: list[list[int]] = [[] for _ in ids]
        self.budget = max(200, 4 * self.n)
        depth = max(self.layer, default=0) + 1
        self.layers: list[list[int]] = [[] for _ in range(depth)]
        for v in range(self.n):
            self.layers[self.layer[v]].append(v)
        self.y = [0.0] * self.n
        self.col_x: list[float] = []
        self.col_w: list[float] = []
        self.width = self.height = 0.0

    def _add_virtual(self, layer: int) -> int:
        v = len(self.w)
        self.w.append(0.0)
        self.h.append(0.0)
        self.layer.append(layer)
        self.up.append([])
        self.down.append([])
        self.y.append(0.0)
        self.layers[layer].append(v)
        return v

    def _link(self, a: int, b: int) -> None:
        self.down[a].append(b)
        self.up[b].append(a)

    def chain(self, u_id: str, v_id: str, *, forward: bool) -> list[int]:
        """The vertices an edge passes through (its ends and its virtual points)."""
        u, v = self._vertex(u_id), self._vertex(v_id)
        span = self.layer[v] - self.layer[u]
        if not forward or span < 1:
            return [u, v]
        virtual = span - 1
        if virtual > MAX_SPAN or len(self.w) - self.n + virtual > self.budget:
            return [u, v]
        out = [u]
        for k in range(1, span):
            out.append(self._add_virtual(self.layer[u] + k))
        out.append(v)
        for a, b in itertools.pairwise(out):
            self._link(a, b)
        return out

    def _vertex(self, node_id: str) -> int:
        return self._ids[node_id]

    # -- crossings

    def reduce_crossings(self) -> int:
        best = [list(layer) for layer in self.layers]
        best_count = self._crossings()
        for sweep in range(SWEEPS * 2):
            if best_count == 0:
                break
            downward = sweep % 2 == 0
            rng = range(1, len(self.layers)) if downward else range(len(self.layers) - 2, -1, -1)
            for i in rng:
                fixed = self.layers[i - 1] if downward else self.layers[i + 1]
                self.layers[i] = self._by_barycenter(
                    self.layers[i], fixed, self.up if downward else self.down
                )
            count = self._crossings()
            if count < best_count:
                best_count = count
                best = [list(layer) for layer in self.layers]
        self.layers = best
        return best_count

    @staticmethod
    def _by_barycenter(layer: list[int], fixed: list[int], nbrs: list[list[int]]) -> list[int]:
        where = {v: k for k, v in enumerate(fixed)}
        scale = len(fixed) / len(layer) if layer else 1.0
        keyed = []
        for k, v in enumerate(layer):
            ps = [where[u] for u in nbrs[v] if u in where]
            bary = sum(ps) / len(ps) if ps else k * scale
            keyed.append((bary, k, v))
        keyed.sort()
        return [v for _, _, v in keyed]

    def _crossings(self) -> int:
        total = 0
        for top, bottom in zip(self.layers, self.layers[1:], strict=False):
            where = {v: k for k, v in enumerate(bottom)}
            pairs = sorted((k, where[b]) for k, a in enumerate(top) for b in self.down[a] if b in where)
            total += _inversions([b for _, b in pairs], len(bottom))
        return total

    # -- coordinates

    def place(self) -> None:
        x = float(MARGIN)
        for layer in self.layers:
            w = max((self.w[v] for v in layer), default=0.0)
            self.col_x.append(x)
            self.col_w.append(w)
            x += w + GAP_X
        self.width = x - GAP_X + MARGIN if self.layers else 2.0 * MARGIN
        for layer in self.layers:
            self._fit(layer, [0.0] * len(layer))
        for p in range(PLACEMENT_PASSES):
            downward = p % 2 == 0
            rng = range(1, len(self.layers)) if downward else range(len(self.layers) - 2, -1, -1)
            for i in rng:
                nbrs = self.up if downward else self.down
                layer = self.layers[i]
                want = []
                for v in layer:
                    ys = [self.y[u] for u in nbrs[v]]
                    want.append(sum(ys) / len(ys) if ys else self.y[v])
                self._fit(layer, want)
        top = min((self.y[v] - self.h[v] / 2 for v in range(len(self.y))), default=0.0)
        shift = MARGIN - top
        self.y = [y + shift for y in self.y]
        bottom = max((self.y[v] + self.h[v] / 2 for v in range(len(self.y))), default=0.0)
        self.height = bottom + MARGIN

    def _fit(self, layer: list[int], want: list[float]) -> None:
        """Centres for ``layer`` closest to ``want`` (least squares) that keep the order and spacing."""
        if not layer:
            return
        offsets = [0.0]
        for a, b in itertools.pairwise(layer):
            gap = GAP_Y if a < self.n and b < self.n else GAP_VIRTUAL
            offsets.append(offsets[-1] + (self.h[a] + self.h[b]) / 2 + gap)
        target = [w - o for w, o in zip(want, offsets, strict=True)]
        # With no wishes (the first placement) centre the column on 0.
        if all(w == 0.0 for w in want):
            fitted = [-offsets[-1] / 2] * len(layer)
        else:
            fitted = _isotonic(target)
        for v, z, o in zip(layer, fitted, offsets, strict=True):
            self.y[v] = z + o

    def box(self, v: int) -> Box:
        col = self.layer[v]
        x = self.col_x[col] + (self.col_w[col] - self.w[v]) / 2
        return Box(x, self.y[v] - self.h[v] / 2, self.w[v], self.h[v])

    def path(self, chain: list[int]) -> str:
        first, last = self.box(chain[0]), self.box(chain[-1])
        points = [(first.x + first.w, first.cy)]
        parts = []
        for v in chain[1:-1]:
            col = self.layer[v]
            left, right = self.col_x[col], self.col_x[col] + self.col_w[col]
            parts.append(_curve(points[-1], (left, self.y[v])))
            parts.append(f"L{_n(right)},{_n(self.y[v])}")
            points.append((right, self.y[v]))
        parts.append(_curve(points[-1], (last.x, last.cy)))
        return f"M{_n(points[0][0])},{_n(points[0][1])}" + "".join(parts)


def _curve(a: tuple[float, float], b: tuple[float, float]) -> str:
    dx = max(abs(b[0] - a[0]) / 2, 16.0)
    return f"C{_n(a[0] + dx)},{_n(a[1])} {_n(b[0] - dx)},{_n(b[1])} {_n(b[0])},{_n(b[1])}"


def _n(v: float) -> str:
    r = round(v, 1)
    return str(int(r)) if r == int(r) else str(r)


def _inversions(seq: list[int], size: int) -> int:
    """Pairs i < j with seq[i] > seq[j] (values in 0..size-1), with a Fenwick tree."""
    tree = [0] * (size + 1)
    count = 0
    for k, value in enumerate(seq):
        # entries seen so far that are <= value
        i, le = value + 1, 0
        while i > 0:
            le += tree[i]
            i -= i & -i
        count += k - le
        i = value + 1
        while i <= size:
            tree[i] += 1
            i += i & -i
    return count


def _isotonic(target: list[float]) -> list[float]:
    """The non-decreasing sequence closest to ``target`` in least squares (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, count]
    for t in target:
        blocks.append([t, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, c2 = blocks.pop()
            m1, c1 = blocks[-1]
            blocks[-1] = [(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2]
    out: list[float] = []
    for mean, count in blocks:
        out.extend([mean] * int(count))
    return out
