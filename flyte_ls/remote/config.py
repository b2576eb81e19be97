"""Where the Flyte backend is and how to reach it: :class:`Config`, discovered as flytekit and flytectl do.

Discovery (first match wins, as ``flytekit.configuration.file.get_config_file``):

1. ``$_FLYTECTL_CONFIG_PYFLYTE_OVERRIDE`` (set by ``pyflyte --config``), else ``$FLYTECTL_CONFIG`` — a missing
   file only logs a warning;
2. ``./flytekit.config`` (INI);
3. ``~/.flyte/config`` (INI);
4. ``~/.flyte/config.yaml`` (flytectl YAML);
5. nothing: defaults.

A path ending in ``yaml``/``yml`` is YAML, anything else INI. Per key, ``FLYTE_{SECTION}_{OPTION}`` wins over
the file; INI keys are read only from INI files and YAML keys only from YAML files.

Differences from flytekit, on purpose: files are re-read when they change (:meth:`Config.reload` stats them;
no watcher threads, no per-process cache); ``insecure`` defaults to true only for a localhost endpoint;
malformed files and values raise :class:`ConfigError` naming the file (or environment variable) and key
instead of being ignored; an unknown ``authType`` is an error. Nothing here touches the network.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from flyte_ls.remote.errors import FlyteUserException

log = logging.getLogger(__name__)

OVERRIDE_ENV_VAR = "_FLYTECTL_CONFIG_PYFLYTE_OVERRIDE"
FLYTECTL_CONFIG_ENV_VAR = "FLYTECTL_CONFIG"
SANDBOX_ENDPOINT = "localhost:30080"
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


class ConfigError(FlyteUserException, ValueError):
    """A config file or value that cannot be used; ``source`` is the file or variable, ``key`` the key."""

    error_code = "USER:ConfigError"

    def __init__(self, message: str, *, source: str = "", key: str = "") -> None:
        super().__init__(message)
        self.source = source
        self.key = key


class AuthType(str, enum.Enum):
    """flyteidl's names for the auth flows; flytekit's older spellings are accepted when reading."""

    PKCE = "Pkce"
    CLIENT_SECRET = "ClientSecret"
    EXTERNAL_COMMAND = "ExternalCommand"
    DEVICE_FLOW = "DeviceFlow"


_AUTH_ALIASES = {
    "pkce": AuthType.PKCE,
    "standard": AuthType.PKCE,
    "clientsecret": AuthType.CLIENT_SECRET,
    "basic": AuthType.CLIENT_SECRET,
    "client_credentials": AuthType.CLIENT_SECRET,
    "externalcommand": AuthType.EXTERNAL_COMMAND,
    "external_process": AuthType.EXTERNAL_COMMAND,
    "deviceflow": AuthType.DEVICE_FLOW,
}


@dataclass(frozen=True)
class StorageConfig:
    """Blob store settings for uploads/downloads (flytectl's ``storage.connection``, INI ``[aws]``)."""

    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    addressing_style: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Config:
    """How to reach one Flyte Admin. Immutable and hashable: one gRPC channel per distinct value.

    Build it with :meth:`auto`, :meth:`for_sandbox` or :meth:`for_endpoint`; a config built that way remembers
    its sources, and :meth:`reload` returns an up-to-date one when a file or variable changed.
    """

    endpoint: str = SANDBOX_ENDPOINT
    insecure: bool = False
    insecure_skip_verify: bool = False
    ca_cert_file_path: str | None = None
    console_endpoint: str | None = None
    http_proxy_url: str | None = None
    auth_mode: AuthType = AuthType.PKCE
    client_id: str | None = None
    client_credentials_secret: str | None = field(default=None, repr=False)
    client_secret_location: str | None = None
    client_secret_env_var: str | None = None
    scopes: tuple[str, ...] = ()
    audience: str | None = None
    command: tuple[str, ...] | None = None
    proxy_command: tuple[str, ...] | None = None
    storage: StorageConfig = StorageConfig()
    source: Path | None = None
    """The file the settings were read from (``None``: environment and defaults only)."""
    _recipe: Callable[[], Config] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def auto(
        cls, config_file: str | os.PathLike[str] | None = None, *, cwd: str | os.PathLike[str] | None = None
    ) -> Config:
        """Read ``config_file`` (or the discovered one) and ``FLYTE_*`` variables.

        ``cwd`` is where to look for ``./flytekit.config`` (default: the working directory at each (re)load).
        """

        def build() -> Config:
            return _load(config_file, cwd, os.environ)

        return build()._with_recipe(build)

    @classmethod
    def for_sandbox(cls) -> Config:
        """flytekit's sandbox preset (the local backend's address too): localhost:30080, plaintext."""
        return cls(
            endpoint=SANDBOX_ENDPOINT,
            insecure=True,
            auth_mode=AuthType.PKCE,
            storage=StorageConfig(
                endpoint="http://localhost:30002", access_key_id="minio", secret_access_key="miniostorage"
            ),
        )

    @classmethod
    def for_endpoint(
        cls,
        endpoint: str,
        insecure: bool | None = None,
        *,
        config_file: str | os.PathLike[str] | None = None,
        storage: StorageConfig | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> Config:
        """:meth:`auto` with ``endpoint`` (and ``insecure``; ``None``: true only for localhost) replaced.

        Unlike flytekit without a ``config_file``, auth and storage settings from the file and environment are
        kept; ``storage`` replaces the discovered storage settings when given.
        """
        endpoint = _clean_endpoint(endpoint, "for_endpoint()", "endpoint")

        def build() -> Config:
            base = _load(config_file, cwd, os.environ)
            changes: dict[str, Any] = {
                "endpoint": endpoint,
                "insecure": _is_local(endpoint) if insecure is None else insecure,
            }
            if storage is not None:
                changes["storage"] = storage
            return replace(base, **changes)

        return build()._with_recipe(build)

    def reload(self) -> Config:
        """This config as its sources say now: ``self`` when nothing changed (or it was built by hand).

        Costs a few ``stat`` calls; a file is parsed again only when its size, mtime or inode changed. Raises
        :class:`ConfigError` when a source has become malformed (the caller may keep using ``self``).
        """
        if self._recipe is None:
            return self
        fresh = self._recipe()
        return self if fresh == self else fresh._with_recipe(self._recipe)

    def _with_recipe(self, recipe: Callable[[], Config]) -> Config:
        object.__setattr__(self, "_recipe", recipe)
        return self


# ----------------------------------------------------------------------------------------------------
# Discovery and parsing


def discover_config_file(
    env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None
) -> Path | None:
    """The config file flytekit would use (see the module docstring), or ``None``."""
    env = os.environ if env is None else env
    base = Path(cwd) if cwd is not None else Path.cwd()
    from_env = env.get(OVERRIDE_ENV_VAR, env.get(FLYTECTL_CONFIG_ENV_VAR))
    if from_env:
        path = base / Path(from_env).expanduser()
        if path.is_file():
            return path
        log.warning("%s points to %s, which does not exist; looking elsewhere", FLYTECTL_CONFIG_ENV_VAR, path)
    home = Path(env.get("HOME") or Path.home())
    for candidate in (base / "flytekit.config", home / ".flyte" / "config", home / ".flyte" / "config.yaml"):
        if candidate.is_file():
            return candidate
    return None


_cache_lock = threading.Lock()
_parsed: dict[Path, tuple[tuple[int, int, int], _File]] = {}


@dataclass(frozen=True)
class _File:
    """One parsed config file: INI sections or a YAML mapping."""

    path: Path
    ini: dict[str, dict[str, str]] | None = None
    yaml: Mapping[str, Any] | None = None


def _read_file(path: Path) -> _File:
    """Parse ``path``, reusing the last parse while its inode, size and mtime are unchanged."""
    try:
        st = path.stat()
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}", source=str(path)) from e
    signature = (st.st_ino, st.st_size, st.st_mtime_ns)
    with _cache_lock:
        hit = _parsed.get(path)
        if hit is not None and hit[0] == signature:
            return hit[1]
    parsed = _parse(path)
    with _cache_lock:
        _parsed[path] = (signature, parsed)
    return parsed


def _parse(path: Path) -> _File:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}", source=str(path)) from e
    if path.name.endswith(("yaml", "yml")):
        return _File(path, yaml=_parse_yaml(path, text))
    import configparser  # only when an INI file is used, as yaml above

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as e:
        raise ConfigError(
            f"{path} is not a valid INI config file ({e.message.strip()}); fix it, or point "
            "FLYTECTL_CONFIG at another file",
            source=str(path),
        ) from e
    return _File(path, ini={s: dict(parser.items(s, raw=True)) for s in parser.sections()})


def _parse_yaml(path: Path, text: str) -> Mapping[str, Any]:
    try:
        import yaml  # only when a YAML file is actually used: keeps `import flyte_ls.remote` light
    except ImportError as e:  # pragma: no cover - PyYAML is a dependency
        raise ConfigError(f"reading {path} needs PyYAML: pip install pyyaml", source=str(path)) from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        problem = getattr(e, "problem", None)
        raise ConfigError(
            f"{path} is not valid YAML{at}{f' ({problem})' if problem else ''}: fix the file, or remove it",
            source=str(path),
        ) from e
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path} must hold a YAML mapping (admin:, console:, storage: ...), not {type(data).__name__}",
            source=str(path),
        )
    return data


# ----------------------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class _Key:
    """One setting: ``FLYTE_{SECTION}_{OPTION}`` / INI ``[section] option`` / YAML dotted path."""

    attr: str
    section: str
    option: str
    yaml: str | None
    kind: str = "str"  # "str" | "bool" | "list"

    @property
    def env(self) -> str:
        return f"FLYTE_{self.section.upper()}_{self.option.upper()}"


_PLATFORM_KEYS = (
    _Key("endpoint", "platform", "url", "admin.endpoint"),
    _Key("insecure", "platform", "insecure", "admin.insecure", "bool"),
    _Key("insecure_skip_verify", "platform", "insecure_skip_verify", "admin.insecureSkipVerify", "bool"),
    _Key("ca_cert_file_path", "platform", "ca_cert_file_path", "admin.caCertFilePath"),
    _Key("console_endpoint", "platform", "console_endpoint", "console.endpoint"),
    _Key("http_proxy_url", "platform", "http_proxy_url", "admin.httpProxyURL"),
    _Key("auth_mode", "credentials", "auth_mode", "admin.authType"),
    _Key("client_id", "credentials", "client_id", "admin.clientId"),
    _Key("client_credentials_secret", "credentials", "client_secret", None),
    _Key("client_secret_location", "credentials", "client_secret_location", "admin.clientSecretLocation"),
    _Key("client_secret_env_var", "credentials", "client_secret_env_var", "admin.clientSecretEnvVar"),
    _Key("scopes", "credentials", "scopes", "admin.scopes", "list"),
    _Key("audience", "credentials", "audience", "admin.audience"),
    _Key("command", "credentials", "command", "admin.command", "list"),
    _Key("proxy_command", "credentials", "proxy_command", "admin.proxyCommand", "list"),
)
_STORAGE_KEYS = (
    _Key("endpoint", "aws", "endpoint", "storage.connection.endpoint"),
    _Key("access_key_id", "aws", "access_key_id", "storage.connection.access-key"),
    _Key("secret_access_key", "aws", "secret_access_key", "storage.connection.secret-key"),
    _Key("addressing_style", "aws", "addressing_style", "storage.connection.addressing-style"),
    _Key("region", "aws", "region", "storage.connection.region"),
)
_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no"})


_UNSET: tuple[Any, str, str] = (None, "", "")


def _lookup(key: _Key, file: _File | None, env: Mapping[str, str]) -> tuple[Any, str, str]:
    """The raw value of ``key``, the file or variable it came from and the key's name there; ``_UNSET``."""
    value = env.get(key.env)
    if value:
        return value, key.env, key.env
    if file is None:
        return _UNSET
    if file.ini is not None:
        value = file.ini.get(key.section, {}).get(key.option)
        return (value, str(file.path), f"[{key.section}] {key.option}") if value else _UNSET
    if key.yaml is None or file.yaml is None:
        return _UNSET
    node: Any = file.yaml
    parts = key.yaml.split(".")
    for depth, part in enumerate(parts):
        if node is None:
            return _UNSET
        if not isinstance(node, Mapping):
            where = ".".join(parts[:depth])
            raise ConfigError(
                f"{file.path}: {where} must be a mapping (it holds {key.yaml}), not {type(node).__name__}",
                source=str(file.path),
                key=where,
            )
        node = node.get(part)
    if node is None or node == "" or node == []:
        return _UNSET
    return node, str(file.path), key.yaml


def _where(source: str, name: str) -> str:
    """``FLYTE_X`` for a variable, ``<file> <key>`` for a file: how messages point at a setting."""
    return name if source == name else f"{source} {name}"


def _convert(key: _Key, value: Any, source: str, name: str) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(
            f"{_where(source, name)} is {value!r}; expected {expected}", source=source, key=name
        )

    if key.kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise bad("true or false")
    if key.kind == "list":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, (str, int, float)) for i in items):
            raise bad("a list of strings (or one comma-separated string)")
        return tuple(s for s in (str(i).strip() for i in items) if s)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise bad("a string")
    return str(value).strip()


def _clean_endpoint(endpoint: str, source: str, name: str) -> str:
    """``host:port`` for gRPC: flytectl's ``dns:///`` prefix dropped; a URL scheme is a mistake to name."""
    endpoint = endpoint.strip().replace("dns:///", "")
    where = _where(source, name)
    if not endpoint:
        raise ConfigError(f"{where}: the endpoint is empty; set it to host:port", source=source, key=name)
    if "://" in endpoint:
        raise ConfigError(
            f"{where} is {endpoint!r}: give the gRPC address as host:port (or dns:///host:port), "
            "without a URL scheme, e.g. flyte.example.com:443",
            source=source,
            key=name,
        )
    return endpoint


def _is_local(endpoint: str) -> bool:
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 or endpoint.startswith("[") else endpoint
    return host.strip("[]").lower() in _LOCAL_HOSTS


def _auth_type(value: str, source: str, name: str) -> AuthType:
    found = _AUTH_ALIASES.get(value.strip().lower())
    if found is None:
        names = ", ".join(a.value for a in AuthType)
        raise ConfigError(
            f"{_where(source, name)} is {value!r}; expected one of {names}", source=source, key=name
        )
    return found


def _load(
    config_file: str | os.PathLike[str] | None, cwd: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> Config:
    path: Path | None
    if config_file is not None:
        path = Path(cwd or Path.cwd()) / Path(config_file).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"config file {path} does not exist: create it, or drop the argument", source=str(path)
            )
    else:
        path = discover_config_file(env, cwd)
    file = _read_file(path) if path is not None else None

    def read(keys: tuple[_Key, ...]) -> dict[str, tuple[Any, str, str]]:
        out: dict[str, tuple[Any, str, str]] = {}
        for key in keys:
            raw, source, name = _lookup(key, file, env)
            if raw is not None:
                out[key.attr] = (_convert(key, raw, source, name), source, name)
        return out

    platform = read(_PLATFORM_KEYS)
    values: dict[str, Any] = {attr: v for attr, (v, _, _) in platform.items()}
    if "endpoint" in platform:
        values["endpoint"] = _clean_endpoint(values["endpoint"], *platform["endpoint"][1:])
    if "auth_mode" in platform:
        values["auth_mode"] = _auth_type(values["auth_mode"], *platform["auth_mode"][1:])
    # flytekit's order: the literal secret, then the file it names, then the variable it names; either of the
    # last two also switches the auth mode to client credentials.
    if "client_secret_location" in platform:
        secret = _read_secret(values["client_secret_location"], *platform["client_secret_location"][1:])
        if secret:
            values["client_credentials_secret"] = secret
            values["auth_mode"] = AuthType.CLIENT_SECRET
    if "client_secret_env_var" in values:
        from_var = env.get(values["client_secret_env_var"])
        if from_var:
            values["client_credentials_secret"] = from_var
            values["auth_mode"] = AuthType.CLIENT_SECRET
    values.setdefault("insecure", _is_local(values.get("endpoint", SANDBOX_ENDPOINT)))
    storage = StorageConfig(**{attr: v for attr, (v, _, _) in read(_STORAGE_KEYS).items()})
    return Config(**values, storage=storage, source=path)


def _read_secret(location: str, source: str, name: str) -> str:
    path = Path(location).expanduser()
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(
            f"{_where(source, name)} names {path}, which cannot be read ({e.strerror}): create the file or "
            "fix the setting",
            source=source,
            key=name,
        ) from e
