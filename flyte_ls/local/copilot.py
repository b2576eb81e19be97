"""Raw container tasks (flytekit's ``ContainerTask``): ``{{.Inputs.<var>}}`` and the copilot data layout.

Propeller renders ``{{.Inputs.<var>}}`` in a container's command and args (flyteplugins
``pluginmachinery/core/template``): a primitive as text, a blob or schema as its URI, a collection as
``[a,b]``, a msgpack struct as Go prints it; any other kind of value (maps, unions, None, structured
datasets) is an error naming the input.

When the container's ``data_config`` is enabled, Flyte's copilot (flytecopilot ``data/download.go`` and
``upload.go``) puts the inputs into the container's ``input_path`` before the command starts — one file (or
directory, for multipart blobs, collections and maps) per input, named after it, plus ``inputs.pb`` and
``inputs.json`` / ``inputs.yaml`` — and after it exits reads one file per output from ``output_path``: simple
types as text (at most 1 KiB, trimmed, parsed as Flyte parses them), files and directories as blobs; an
``_ERROR`` file there fails the task with its content. Locally those container paths are directories of the
attempt (``<workdir>/<path>``), and the rendered command's references to them are rewritten to match.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import re
import shutil
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from flyteidl.core import literals_pb2, tasks_pb2, types_pb2
from google.protobuf import json_format

MAX_PRIMITIVE_BYTES = 1024  # copilot's maxPrimitiveSize
ERROR_FILE = "_ERROR"  # copilot sidecar's error file name
_INPUTS_TEMPLATE = re.compile(r"\{\{\s*[.$]Inputs\.([^}\s]+)\s*\}\}", re.IGNORECASE)


class CopilotError(Exception):
    """Inputs that cannot be laid out, or outputs that cannot be read; the message names the variable."""


# --- Go's text forms ----------------------------------------------------------------------------------------


def _shortest(value: float) -> tuple[str, str, int]:
    """(sign, significant digits without trailing zeros, decimal point position) of the shortest repr."""
    sign, digit_tuple, exp = Decimal(repr(value)).as_tuple()
    assert isinstance(exp, int)
    raw = "".join(map(str, digit_tuple))
    digits = raw.rstrip("0") or "0"
    return ("-" if sign else ""), digits, len(raw) + exp


def go_float(value: float) -> str:
    """``fmt.Sprintf("%v", f)`` of a float64: shortest digits, exponent form below 1e-4 or from 1e6 up."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    minus, digits, point = _shortest(value)
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        e = point - 1
        return f"{minus}{mantissa}e{'-' if e < 0 else '+'}{abs(e):02d}"
    return minus + _plain(digits, point)


def _plain(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def go_float_f(value: float) -> str:
    """``strconv.FormatFloat(f, 'f', -1, 64)``: shortest digits, never an exponent (copilot's input files)."""
    if math.isnan(value) or math.isinf(value) or value == 0:
        return go_float(value)
    minus, digits, point = _shortest(value)
    return minus + _plain(digits, point)


def go_duration(seconds: int, nanos: int) -> str:
    """Go's ``time.Duration.String()``: ``1h2m3.5s``, ``2m0s``, ``1.5ms``, ``0s``."""
    total = seconds * 1_000_000_000 + nanos
    if total == 0:
        return "0s"
    minus = "-" if total < 0 else ""
    total = abs(total)

    def fraction(value: int, scale: int) -> str:
        whole, rest = divmod(value, scale)
        frac = str(rest).rjust(len(str(scale)) - 1, "0").rstrip("0") if rest else ""
        return f"{whole}.{frac}" if frac else str(whole)

    if total < 1_000_000_000:
        for unit, scale in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if total >= scale:
                return f"{minus}{fraction(total, scale)}{unit}"
    hours, rest = divmod(total, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    text = fraction(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return minus + text


_GO_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> tuple[int, int]:
    """Go's ``time.ParseDuration`` (``300ms``, ``-1.5h``, ``2h45m``) as (seconds, nanos), else ValueError."""
    s = text
    minus = s.startswith("-")
    s = s[1:] if s[:1] in "+-" else s
    if s == "0":
        return 0, 0
    if not s:
        raise ValueError(f"invalid duration {text!r}: use e.g. 300ms, -1.5h, 2h45m")
    total = Decimal(0)
    pos = 0
    while pos < len(s):
        match = _GO_DURATION_PART.match(s, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}: use e.g. 300ms, -1.5h, 2h45m")
        total += Decimal(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    nanos = int(total) * (-1 if minus else 1)
    secs, rest = divmod(abs(nanos), 10**9)
    return (-secs, -rest) if nanos < 0 else (secs, rest)


def _rfc3339(ts: Any) -> str:
    """A protobuf Timestamp as Go's RFC3339Nano in UTC (fraction without trailing zeros)."""
    moment = datetime.datetime.fromtimestamp(ts.seconds, tz=datetime.timezone.utc)
    frac = f".{ts.nanos:09d}".rstrip("0") if ts.nanos else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


# --- {{.Inputs.<var>}} -----------------------------------------------------------------------------------


def render_inputs(arg: str, inputs: literals_pb2.LiteralMap) -> str:
    """``arg`` with each ``{{.Inputs.<var>}}`` replaced by the input's text; CopilotError names a bad one."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in inputs.literals:
            known = ", ".join(sorted(inputs.literals)) or "none"
            raise CopilotError(
                f"input template [{match.group(0)}]: the task has no input [{name}] (inputs: {known})"
            )
        try:
            return template_text(inputs.literals[name])
        except CopilotError as exc:
            raise CopilotError(f"input template [{match.group(0)}]: {exc}") from None

    return _INPUTS_TEMPLATE.sub(substitute, arg)


def template_text(literal: literals_pb2.Literal) -> str:
    """A literal as propeller writes it into a command: see the module docstring."""
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return "[" + ",".join(template_text(item) for item in literal.collection.literals) + "]"
    if kind != "scalar":
        raise CopilotError(
            f"a {kind or 'empty'} value cannot be rendered into a command (only scalars and lists)"
        )
    scalar = literal.scalar
    which = scalar.WhichOneof("value")
    if which == "primitive":
        return _primitive_text(scalar.primitive, go_float)
    if which == "blob":
        return scalar.blob.uri
    if which == "schema":
        return scalar.schema.uri
    if which == "binary" and scalar.binary.tag == "msgpack":
        return _go_value(_unpack(scalar.binary.value))
    raise CopilotError(f"a {which or 'empty'} scalar cannot be rendered into a command")


def _primitive_text(prim: literals_pb2.Primitive, float_text: Any) -> str:
    which = prim.WhichOneof("value")
    if which == "integer":
        return str(prim.integer)
    if which == "float_value":
        return str(float_text(prim.float_value))
    if which == "string_value":
        return prim.string_value
    if which == "boolean":
        return "true" if prim.boolean else "false"
    if which == "datetime":
        return _rfc3339(prim.datetime)
    if which == "duration":
        return go_duration(prim.duration.seconds, prim.duration.nanos)
    raise CopilotError("an empty primitive has no text")


def _unpack(data: bytes) -> Any:
    try:
        import msgpack  # flytekit's dependency: present where msgpack structs are
    except ImportError:  # pragma: no cover - the backend's interpreter normally has it
        raise CopilotError("a msgpack struct cannot be rendered: msgpack is not installed") from None
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def _go_value(value: Any) -> str:
    """Go's ``%v`` of a decoded msgpack value (``map[k:v]``, ``[a b]``)."""
    if isinstance(value, dict):
        return (
            "map["
            + " ".join(f"{_go_value(k)}:{_go_value(v)}" for k, v in sorted(value.items(), key=str))
            + "]"
        )
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if value is None:
        return "<nil>"
    if isinstance(value, bytes):
        return "[" + " ".join(str(b) for b in value) + "]"
    return str(value)


# --- the data layout -------------------------------------------------------------------------------------


def host_dir(workdir: Path, container_path: str) -> Path:
    """Where a container path of the data config lives for this attempt: ``<workdir>/<path>``."""
    parts = [p for p in container_path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or not parts:
        raise CopilotError(f"the data config path {container_path!r} must be an absolute path without '..'")
    return workdir.joinpath(*parts)


def rewrite_paths(arg: str, mapping: Mapping[str, Path]) -> str:
    """``arg`` with each container path of ``mapping`` (at a path boundary) replaced by its host dir."""
    for container_path, host in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
        prefix = "/" + "/".join(p for p in container_path.split("/") if p)
        replacement = str(host).replace("\\", "\\\\")
        arg = re.sub(re.escape(prefix) + r"(?=/|$|[^\w.\-])", replacement, arg)
    return arg


def write_inputs(inputs: literals_pb2.LiteralMap, input_dir: Path, fmt: int) -> None:
    """Lay out ``inputs`` in ``input_dir`` as copilot's downloader does."""
    input_dir.mkdir(parents=True, exist_ok=True)
    local = literals_pb2.LiteralMap()
    values: dict[str, Any] = {}
    for name, literal in sorted(inputs.literals.items()):
        values[name], rewritten = _write_literal(literal, input_dir / name, name)
        local.literals[name].CopyFrom(rewritten)
    (input_dir / "inputs.pb").write_bytes(local.SerializeToString(deterministic=True))
    text = json.dumps(values, sort_keys=True)
    if fmt == tasks_pb2.DataLoadingConfig.JSON:
        (input_dir / "inputs.json").write_text(text, encoding="utf-8")
    elif fmt == tasks_pb2.DataLoadingConfig.YAML:
        (input_dir / "inputs.yaml").write_text(text + "\n", encoding="utf-8")  # JSON is YAML


def _write_literal(literal: literals_pb2.Literal, path: Path, name: str) -> tuple[Any, literals_pb2.Literal]:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        path.mkdir(parents=True, exist_ok=True)
        out = literals_pb2.Literal(collection=literals_pb2.LiteralCollection())
        items = []
        for i, item in enumerate(literal.collection.literals):
            value, rewritten = _write_literal(item, path / str(i), name)
            items.append(value)
            out.collection.literals.add().CopyFrom(rewritten)
        return items, out
    if kind == "map":
        path.mkdir(parents=True, exist_ok=True)
        out = literals_pb2.Literal(map=literals_pb2.LiteralMap())
        mapping: dict[str, Any] = {}
        for key, item in sorted(literal.map.literals.items()):
            mapping[key], rewritten = _write_literal(item, path / key, name)
            out.map.literals[key].CopyFrom(rewritten)
        return mapping, out
    if kind != "scalar":
        raise CopilotError(f"input [{name}]: a {kind or 'empty'} literal cannot be written for the container")
    scalar = literal.scalar
    which = scalar.WhichOneof("value")
    if which == "primitive":
        prim = scalar.primitive
        path.write_text(_primitive_text(prim, go_float_f), encoding="utf-8")
        return _json_primitive(prim), literal
    if which in ("blob", "schema"):
        source = scalar.blob.uri if which == "blob" else scalar.schema.uri
        _copy(_local_path(source, name), path)
        out = literals_pb2.Literal()
        out.CopyFrom(literal)
        if which == "blob":
            out.scalar.blob.uri = str(path)
        else:
            out.scalar.schema.uri = str(path)
        return str(path), out
    if which == "none_type":
        path.write_text("null", encoding="utf-8")
        return None, literal
    if which == "union":
        value, rewritten = _write_literal(scalar.union.value, path, name)
        out = literals_pb2.Literal()
        out.CopyFrom(literal)
        out.scalar.union.value.CopyFrom(rewritten)
        return value, out
    if which == "generic":
        path.write_text(json_format.MessageToJson(scalar.generic, indent=None), encoding="utf-8")
        return json_format.MessageToDict(scalar.generic), literal
    if which == "binary":
        path.write_bytes(scalar.binary.value)
        return base64.b64encode(scalar.binary.value).decode("ascii"), literal  # Go's JSON of []byte
    if which == "error":
        path.write_text(scalar.error.message, encoding="utf-8")
        return scalar.error.message, literal
    raise CopilotError(f"input [{name}]: a {which or 'empty'} scalar cannot be written for the container")


def _json_primitive(prim: literals_pb2.Primitive) -> Any:
    which = prim.WhichOneof("value")
    if which == "integer":
        return prim.integer
    if which == "float_value":
        return prim.float_value
    if which == "boolean":
        return prim.boolean
    if which == "string_value":
        return prim.string_value
    if which == "datetime":
        return _rfc3339(prim.datetime)
    if which == "duration":  # a Go time.Duration marshals as its nanoseconds
        return prim.duration.seconds * 1_000_000_000 + prim.duration.nanos
    return None


def _local_path(uri: str, name: str) -> Path:
    path = uri[len("file://") :] if uri.startswith("file://") else uri
    if not path.startswith("/") or not Path(path).exists():
        raise CopilotError(f"input [{name}]: {uri!r} is not a file or directory on this machine")
    return Path(path)


def _copy(source: Path, dest: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True)
    else:
        shutil.copyfile(source, dest)


def read_outputs(variables: Mapping[str, Any], output_dir: Path, raw_prefix: Path) -> literals_pb2.LiteralMap:
    """The task's outputs from ``output_dir`` as copilot's uploader reads them (see the module docstring);
    blobs are copied under ``raw_prefix/<var>``. CopilotError for ``_ERROR`` or an unreadable output."""
    error_file = output_dir / ERROR_FILE
    if error_file.is_file():
        raise CopilotError("User Error: " + error_file.read_bytes()[: 1 << 20].decode(errors="replace"))
    outputs = literals_pb2.LiteralMap()
    for name, var in sorted(variables.items()):
        lit_type: types_pb2.LiteralType = var.type
        path = output_dir / name
        kind = lit_type.WhichOneof("type")
        if kind == "blob":
            if not path.exists():
                raise CopilotError(f"output [{name}] was not written: expected a file or directory at {path}")
            dest = raw_prefix / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            _copy(path, dest)
            dim = types_pb2.BlobType.MULTIPART if path.is_dir() else types_pb2.BlobType.SINGLE
            meta = literals_pb2.BlobMetadata(type=types_pb2.BlobType(dimensionality=dim))
            outputs.literals[name].scalar.blob.CopyFrom(literals_pb2.Blob(metadata=meta, uri=str(dest)))
        elif kind == "simple":
            outputs.literals[name].CopyFrom(_read_simple(name, lit_type.simple, path))
        else:
            raise CopilotError(
                f"output [{name}]: raw containers return simple types, files and directories only "
                f"(as Flyte's copilot), not a {kind} type"
            )
    return outputs


def _read_simple(name: str, simple: int, path: Path) -> literals_pb2.Literal:
    if not path.is_file():
        raise CopilotError(f"output [{name}] was not written: expected a file at {path}")
    size = path.stat().st_size
    if size > MAX_PRIMITIVE_BYTES:
        raise CopilotError(
            f"output [{name}]: maximum allowed filesize is [{MAX_PRIMITIVE_BYTES}], found [{size}]"
        )
    text = path.read_bytes().decode(errors="replace").strip(" \n\t")
    literal = literals_pb2.Literal()
    scalar = literal.scalar
    type_name = types_pb2.SimpleType.Name(simple)
    try:
        if simple == types_pb2.INTEGER:
            scalar.primitive.integer = int(text, 10)
        elif simple == types_pb2.FLOAT:
            scalar.primitive.float_value = float(text)
        elif simple == types_pb2.BOOLEAN:
            scalar.primitive.boolean = _go_bool(text)
        elif simple == types_pb2.STRING:
            scalar.primitive.string_value = text
        elif simple == types_pb2.DATETIME:
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError("RFC3339 needs a time zone")
            scalar.primitive.datetime.FromDatetime(moment.astimezone(datetime.timezone.utc))
        elif simple == types_pb2.DURATION:
            seconds, nanos = parse_go_duration(text)
            scalar.primitive.duration.seconds, scalar.primitive.duration.nanos = seconds, nanos
        elif simple == types_pb2.NONE:
            scalar.none_type.SetInParent()
        elif simple == types_pb2.STRUCT:
            json_format.Parse(text, scalar.generic, ignore_unknown_fields=True)
        elif simple == types_pb2.BINARY:
            scalar.binary.value, scalar.binary.tag = text.encode(), "msgpack"
        elif simple == types_pb2.ERROR:
            scalar.error.message = text
        else:
            raise ValueError("unsupported type")
    except (ValueError, json_format.ParseError) as exc:
        raise CopilotError(
            f"output [{name}]: cannot parse {text[:100]!r} in {path} as {type_name}: {exc}"
        ) from None
    return literal


def _go_bool(text: str) -> bool:
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError("not a boolean (true/false, 1/0, t/f)")
