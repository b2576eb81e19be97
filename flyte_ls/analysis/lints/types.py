"""What rules need to know about type annotations, from their source text alone.

Everything here answers conservatively: when an annotation could mean several things (a bare name that may be
an alias defined elsewhere), the answer is "unknown" and rules stay quiet.
"""

from __future__ import annotations

import ast
from functools import lru_cache

# Heads of annotations that are certainly one value (never a NamedTuple / tuple of outputs).
_SINGLE_HEADS = frozenset(
    {
        "int", "float", "str", "bool", "bytes", "list", "dict", "set", "frozenset",
        "List", "Dict", "Set", "FrozenSet", "Optional", "Union", "Annotated", "Any", "Literal",
        "datetime", "date", "timedelta", "Decimal", "Path", "Enum",
        "FlyteFile", "FlyteDirectory", "StructuredDataset", "FlyteSchema", "DataFrame", "ndarray", "Tensor",
        "Iterator", "JSON",
    }
)  # fmt: skip

# Scalar builtins whose literals flytekit checks strictly (an int is not a float, a bool is not an int).
SCALARS = frozenset({"int", "float", "str", "bool"})

# Heads whose values a generator cannot be converted to.
PLAIN_HEADS = frozenset({"int", "float", "str", "bool", "bytes", "list", "dict", "List", "Dict"})


@lru_cache(maxsize=2048)
def parse_annotation(text: str | None) -> ast.expr | None:
    """The expression of an annotation's source text (string annotations are unwrapped), or None."""
    if not text:
        return None
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return parse_annotation(node.value)
    return node


def head(node: ast.expr | None) -> str | None:
    """``int`` → int; ``typing.List[int]`` → List; ``pd.DataFrame`` → DataFrame; else None."""
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _mentions_none(node: ast.expr) -> bool:
    return any(isinstance(n, ast.Constant) and n.value is None for n in ast.walk(node)) or any(
        isinstance(n, ast.Name) and n.id == "NoneType" for n in ast.walk(node)
    )


def is_optional(text: str | None) -> bool | None:
    """True for ``Optional[X]`` / ``X | None``; False when certainly not; None: unknown."""
    node = parse_annotation(text)
    if node is None:
        return None
    h = head(node)
    if isinstance(node, ast.BinOp):
        return _mentions_none(node)
    if isinstance(node, ast.Subscript) and h in ("Optional",):
        return True
    if isinstance(node, ast.Subscript) and h in ("Union",):
        return _mentions_none(node.slice)
    if isinstance(node, ast.Subscript) and h == "Annotated":
        inner = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) and node.slice.elts else node.slice
        return is_optional(ast.unparse(inner))
    if isinstance(node, ast.Constant) and node.value is None:
        return True
    if h in _SINGLE_HEADS:
        return False
    return None


def is_single_value(text: str | None, local_classes: frozenset[str] = frozenset()) -> bool:
    """True when an output of this type is certainly one promise (not a NamedTuple of several)."""
    node = parse_annotation(text)
    h = head(node)
    if h is None:
        return False
    if h in _SINGLE_HEADS:
        return True
    return isinstance(node, ast.Name) and h in local_classes


def scalar(text: str | None) -> str | None:
    """``int``/``float``/``str``/``bool`` when the annotation is exactly that builtin, else None."""
    node = parse_annotation(text)
    if isinstance(node, ast.Name) and node.id in SCALARS:
        return node.id
    return None


def _union_members(node: ast.expr | None) -> list[ast.expr] | None:
    if isinstance(node, ast.Subscript) and head(node) == "Optional":
        return [node.slice, ast.Constant(None)]
    if isinstance(node, ast.Subscript) and head(node) == "Union":
        return list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left = _union_members(node.left) if isinstance(node.left, ast.BinOp) else [node.left]
        right = _union_members(node.right) if isinstance(node.right, ast.BinOp) else [node.right]
        if left is None or right is None:
            return None
        return [*left, *right]
    return None


def optional_scalar(text: str | None) -> tuple[str, bool] | None:
    """(scalar, optional) for ``int``, ``Optional[int]``, ``int | None``; else None."""
    s = scalar(text)
    if s is not None:
        return s, False
    members = _union_members(parse_annotation(text))
    if members is None:
        return None
    others = [m for m in members if not (isinstance(m, ast.Constant) and m.value is None)]
    if len(others) == 1 and isinstance(others[0], ast.Name) and others[0].id in SCALARS:
        return others[0].id, len(others) < len(members)
    return None


def literal_kind(node: ast.expr | None) -> str | None:
    """Type name of a literal constant (``-1`` counts; ``None`` is "None"); other expressions → None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = literal_kind(node.operand)
        return inner if inner in ("int", "float") else None
    if not isinstance(node, ast.Constant):
        return None
    value = node.value
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "bool"
    for name, typ in (("int", int), ("float", float), ("str", str)):
        if isinstance(value, typ):
            return name
    return None


def literal_mismatch(type_text: str | None, value: ast.expr | None) -> str | None:
    """Why flytekit refuses ``value`` for an input typed ``type_text`` ("an int for a float"), or None."""
    expected = optional_scalar(type_text)
    got = literal_kind(value)
    if expected is None or got is None:
        return None
    want, optional = expected
    if got == "None":
        return None if optional else f"None for a non-optional {want}"
    if got == want:
        return None
    article = "an" if got == "int" else "a"
    return f"{article} {got} for {'an' if want == 'int' else 'a'} {want}"


def is_mutable_default(text: str | None) -> bool:
    """A default written as a list / dict / set display or ``list()`` / ``dict()`` / ``set()`` call."""
    node = parse_annotation(text)  # parses any expression
    if isinstance(node, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("list", "dict", "set")
    )


def tuple_arity(node: ast.expr | None, namedtuples: dict[str, int] | None = None) -> int | None:
    """How many outputs a return annotation certainly declares: ``Tuple[a, b]`` → 2, ``int`` → 1."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return tuple_arity(parse_annotation(node.value), namedtuples)
    h = head(node)
    if isinstance(node, ast.Subscript) and h in ("Tuple", "tuple"):
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if any(isinstance(e, ast.Constant) and e.value is Ellipsis for e in elts):
            return None
        return len(elts) if len(elts) > 1 else None
    if isinstance(node, ast.Name) and namedtuples and node.id in namedtuples:
        return namedtuples[node.id]
    if isinstance(node, ast.Name) and node.id in SCALARS:
        return 1
    return None
