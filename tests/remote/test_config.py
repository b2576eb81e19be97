"""Config discovery: every source, precedence, re-reading, presets, and errors that name file and key."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import pytest

from flyte_ls.remote.config import AuthType, Config, ConfigError, StorageConfig, discover_config_file
from flyte_ls.remote.errors import FlyteUserException

pytestmark = pytest.mark.timeout(30)

FULL_YAML = """\
admin:
  endpoint: dns:///flyte.example.com:443
  insecure: false
  insecureSkipVerify: true
  caCertFilePath: /etc/ca.pem
  authType: DeviceFlow
  clientId: flytepropeller
  scopes: [all, offline]
  audience: https://flyte.example.com
  command: [gcloud, auth, print-identity-token]
  proxyCommand: [iap-token, --audience, x]
  httpProxyURL: http://proxy:3128
console:
  endpoint: https://console.example.com
storage:
  connection:
    endpoint: http://minio:9000
    access-key: AK
    secret-key: SK
    addressing-style: path
    region: us-east-1
"""

FULL_INI = """\
[platform]
url = dns:///ini.example.com:8089
insecure = True
insecure_skip_verify = no
ca_cert_file_path = /ca.pem
console_endpoint = http://console.ini
http_proxy_url = http://proxy.ini

[credentials]
auth_mode = basic
client_id = ini-client
client_secret = literal-secret
scopes = a,b
audience = aud
command = get,token
proxy_command = proxy,token

[aws]
endpoint = http://s3.ini
access_key_id = AKI
secret_access_key = SKI
addressing_style = virtual
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME and working directory, and no FLYTE* variables: only what a test writes is seen."""
    for name in list(os.environ):
        if name.startswith(("FLYTE", "_FLYTECTL")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    (home / ".flyte").mkdir(parents=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return home


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_no_config_gives_defaults_and_plaintext_for_localhost(home: Path) -> None:
    cfg = Config.auto()
    assert cfg.source is None
    assert (cfg.endpoint, cfg.insecure, cfg.auth_mode) == ("localhost:30080", True, AuthType.PKCE)
    assert cfg.scopes == () and cfg.command is None and cfg.storage == StorageConfig()


def test_yaml_in_home_reads_every_key(home: Path) -> None:
    path = write(home / ".flyte" / "config.yaml", FULL_YAML)
    cfg = Config.auto()
    assert cfg.source == path
    assert cfg.endpoint == "flyte.example.com:443"
    assert (cfg.insecure, cfg.insecure_skip_verify) == (False, True)
    assert cfg.ca_cert_file_path == "/etc/ca.pem"
    assert cfg.console_endpoint == "https://console.example.com"
    assert cfg.http_proxy_url == "http://proxy:3128"
    assert cfg.auth_mode is AuthType.DEVICE_FLOW
    assert (cfg.client_id, cfg.audience) == ("flytepropeller", "https://flyte.example.com")
    assert cfg.scopes == ("all", "offline")
    assert cfg.command == ("gcloud", "auth", "print-identity-token")
    assert cfg.proxy_command == ("iap-token", "--audience", "x")
    assert cfg.storage == StorageConfig("http://minio:9000", "AK", "SK", "path", "us-east-1")


def test_ini_reads_every_key(home: Path) -> None:
    write(home / ".flyte" / "config", FULL_INI)
    cfg = Config.auto()
    assert cfg.endpoint == "ini.example.com:8089"
    assert (cfg.insecure, cfg.insecure_skip_verify) == (True, False)
    assert (cfg.ca_cert_file_path, cfg.console_endpoint, cfg.http_proxy_url) == (
        "/ca.pem",
        "http://console.ini",
        "http://proxy.ini",
    )
    assert cfg.auth_mode is AuthType.CLIENT_SECRET
    assert (cfg.client_id, cfg.client_credentials_secret, cfg.audience) == (
        "ini-client",
        "literal-secret",
        "aud",
    )
    assert cfg.scopes == ("a", "b")
    assert (cfg.command, cfg.proxy_command) == (("get", "token"), ("proxy", "token"))
    assert cfg.storage == StorageConfig("http://s3.ini", "AKI", "SKI", "virtual")


def test_discovery_order(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    yaml_home = write(home / ".flyte" / "config.yaml", "admin: {endpoint: yaml-home:1}\n")
    assert Config.auto().endpoint == "yaml-home:1"
    ini_home = write(home / ".flyte" / "config", "[platform]\nurl = ini-home:2\n")
    assert Config.auto().source == ini_home and Config.auto().endpoint == "ini-home:2"
    write(Path("flytekit.config"), "[platform]\nurl = cwd:3\n")
    assert Config.auto().endpoint == "cwd:3"
    ctl = write(tmp_path / "ctl" / "config-sandbox.yaml", "admin: {endpoint: ctl:4}\n")
    monkeypatch.setenv("FLYTECTL_CONFIG", str(ctl))
    assert Config.auto().endpoint == "ctl:4"
    override = write(tmp_path / "override.yml", "admin: {endpoint: override:5}\n")
    monkeypatch.setenv("_FLYTECTL_CONFIG_PYFLYTE_OVERRIDE", str(override))
    assert Config.auto().endpoint == "override:5"
    # An explicit file beats discovery; FLYTE_CONFIG is not a flytekit variable and is ignored.
    assert Config.auto(yaml_home).endpoint == "yaml-home:1"
    monkeypatch.setenv("FLYTE_CONFIG", str(yaml_home))
    assert Config.auto().endpoint == "override:5"


def test_flytectl_config_relative_to_cwd_and_missing_one_only_warns(
    home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    write(Path("sub/ctl.yaml"), "admin: {endpoint: rel:1}\n")
    monkeypatch.setenv("FLYTECTL_CONFIG", "sub/ctl.yaml")
    assert Config.auto().endpoint == "rel:1"
    write(home / ".flyte" / "config.yaml", "admin: {endpoint: fallback:2}\n")
    monkeypatch.setenv("FLYTECTL_CONFIG", "missing.yaml")
    with caplog.at_level(logging.WARNING, logger="flyte_ls.remote.config"):
        assert Config.auto().endpoint == "fallback:2"
    assert "missing.yaml" in caplog.text


def test_cwd_argument_chooses_where_flytekit_config_is_looked_for(home: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    write(project / "flytekit.config", "[platform]\nurl = project:1\n[credentials]\nclient_id = proj\n")
    assert Config.auto().endpoint == "localhost:30080"
    assert Config.auto(cwd=project).endpoint == "project:1"
    assert Config.for_endpoint("other:2", cwd=project).client_id == "proj"
    assert discover_config_file(cwd=project) == project / "flytekit.config"


def test_env_wins_over_file_per_key(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(home / ".flyte" / "config.yaml", FULL_YAML)
    monkeypatch.setenv("FLYTE_PLATFORM_URL", "dns:///env:1")
    monkeypatch.setenv("FLYTE_PLATFORM_INSECURE", "yes")
    monkeypatch.setenv("FLYTE_CREDENTIALS_SCOPES", "x, y")
    monkeypatch.setenv("FLYTE_CREDENTIALS_AUTH_MODE", "external_process")
    monkeypatch.setenv("FLYTE_AWS_ACCESS_KEY_ID", "ENVKEY")
    cfg = Config.auto()
    assert (cfg.endpoint, cfg.insecure, cfg.scopes) == ("env:1", True, ("x", "y"))
    assert cfg.auth_mode is AuthType.EXTERNAL_COMMAND
    assert cfg.storage.access_key_id == "ENVKEY" and cfg.storage.secret_access_key == "SK"
    assert cfg.client_id == "flytepropeller"  # keys without a variable still come from the file


def test_env_only_without_a_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_PLATFORM_URL", "remote:81")
    monkeypatch.setenv("FLYTE_CREDENTIALS_CLIENT_SECRET", "s3cret")
    cfg = Config.auto()
    assert (cfg.endpoint, cfg.insecure, cfg.client_credentials_secret) == ("remote:81", False, "s3cret")


def test_ini_and_yaml_keys_do_not_mix(home: Path) -> None:
    write(home / ".flyte" / "config", "[admin]\nendpoint = yaml-style:1\n")
    assert Config.auto().endpoint == "localhost:30080"
    path = write(home / "other.yaml", "platform:\n  url: ini-style:2\n")
    assert Config.auto(path).endpoint == "localhost:30080"


@pytest.mark.parametrize(
    ("endpoint", "insecure"),
    [("localhost:30080", True), ("127.0.0.1:8089", True), ("[::1]:8089", True), ("flyte.example.com", False)],
)
def test_insecure_defaults_to_true_only_for_localhost(home: Path, endpoint: str, insecure: bool) -> None:
    write(home / ".flyte" / "config.yaml", f"admin:\n  endpoint: dns:///{endpoint}\n")
    assert Config.auto().insecure is insecure
    write(home / ".flyte" / "config.yaml", f"admin:\n  endpoint: '{endpoint}'\n  insecure: {not insecure}\n")
    assert Config.auto().insecure is (not insecure)


def test_client_secret_location_switches_to_client_secret(home: Path, tmp_path: Path) -> None:
    secret = write(tmp_path / "secret", "from-file\n")
    write(home / ".flyte" / "config.yaml", f"admin:\n  clientSecretLocation: {secret}\n  authType: Pkce\n")
    cfg = Config.auto()
    assert (cfg.client_credentials_secret, cfg.auth_mode) == ("from-file", AuthType.CLIENT_SECRET)
    assert "from-file" not in repr(cfg)


def test_client_secret_env_var_wins_over_the_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = write(tmp_path / "secret", "from-file")
    write(
        home / ".flyte" / "config.yaml",
        f"admin:\n  clientSecretLocation: {secret}\n  clientSecretEnvVar: MY_SECRET\n",
    )
    assert Config.auto().client_credentials_secret == "from-file"  # the named variable is unset
    monkeypatch.setenv("MY_SECRET", "from-env")
    cfg = Config.auto()
    assert (cfg.client_credentials_secret, cfg.auth_mode) == ("from-env", AuthType.CLIENT_SECRET)


def test_missing_secret_file_names_the_key(home: Path) -> None:
    path = write(home / ".flyte" / "config.yaml", "admin:\n  clientSecretLocation: /nonexistent/secret\n")
    with pytest.raises(ConfigError, match="clientSecretLocation") as info:
        Config.auto()
    assert str(path) in str(info.value) and "/nonexistent/secret" in str(info.value)


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("standard", AuthType.PKCE),
        ("PKCE", AuthType.PKCE),
        ("client_credentials", AuthType.CLIENT_SECRET),
        ("ClientSecret", AuthType.CLIENT_SECRET),
        ("ExternalCommand", AuthType.EXTERNAL_COMMAND),
        ("deviceflow", AuthType.DEVICE_FLOW),
    ],
)
def test_auth_type_aliases(
    home: Path, monkeypatch: pytest.MonkeyPatch, alias: str, expected: AuthType
) -> None:
    monkeypatch.setenv("FLYTE_CREDENTIALS_AUTH_MODE", alias)
    assert Config.auto().auth_mode is expected


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        ("config.yaml", "admin:\n  endpoint: [unclosed\n", ["not valid YAML", "line"]),
        ("config.yaml", "- a list\n", ["must hold a YAML mapping"]),
        ("config.yaml", "admin: 5\n", ["admin must be a mapping"]),
        ("config.yaml", "admin:\n  insecure: maybe\n", ["admin.insecure", "'maybe'", "true or false"]),
        ("config.yaml", "admin:\n  authType: Kerberos\n", ["admin.authType", "'Kerberos'", "Pkce"]),
        ("config.yaml", "admin:\n  endpoint: https://flyte.example.com\n", ["admin.endpoint", "host:port"]),
        ("config.yaml", "admin:\n  scopes: {a: 1}\n", ["admin.scopes", "list of strings"]),
        ("config.yaml", "admin:\n  clientId: [a, b]\n", ["admin.clientId", "a string"]),
        ("config", "no section header\n", ["not a valid INI"]),
        ("config", "[platform]\ninsecure = perhaps\n", ["[platform] insecure", "'perhaps'"]),
    ],
)
def test_malformed_files_name_file_and_key(home: Path, name: str, text: str, fragments: list[str]) -> None:
    path = write(home / ".flyte" / name, text)
    with pytest.raises(ConfigError) as info:
        Config.auto()
    message = str(info.value)
    assert str(path) in message and info.value.source == str(path)
    assert isinstance(info.value, FlyteUserException) and isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in message


def test_malformed_env_var_is_named(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_PLATFORM_INSECURE_SKIP_VERIFY", "sometimes")
    with pytest.raises(ConfigError, match="FLYTE_PLATFORM_INSECURE_SKIP_VERIFY is 'sometimes'") as info:
        Config.auto()
    assert info.value.source == info.value.key == "FLYTE_PLATFORM_INSECURE_SKIP_VERIFY"


def test_explicit_missing_file_is_an_error(home: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Config.auto("nope.yaml")


def test_reload_rereads_changed_files_and_keeps_unchanged_ones(home: Path) -> None:
    path = write(home / ".flyte" / "config.yaml", "admin: {endpoint: one:1}\n")
    cfg = Config.auto()
    assert cfg.reload() is cfg
    path.write_text("admin: {endpoint: two:2}\n")  # same size: only the mtime tells
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    newer = cfg.reload()
    assert newer.endpoint == "two:2" and newer.reload() is newer
    write(Path("flytekit.config"), "[platform]\nurl = cwd:3\n")  # a new file that discovery prefers
    assert newer.reload().endpoint == "cwd:3"


def test_reload_follows_environment_and_secret_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = write(tmp_path / "secret", "old")
    write(home / ".flyte" / "config.yaml", f"admin:\n  clientSecretLocation: {secret}\n")
    cfg = Config.auto()
    secret.write_text("rotated")
    monkeypatch.setenv("FLYTE_PLATFORM_URL", "env:9")
    fresh = cfg.reload()
    assert (fresh.client_credentials_secret, fresh.endpoint) == ("rotated", "env:9")


def test_hand_built_config_does_not_reload(home: Path) -> None:
    write(home / ".flyte" / "config.yaml", "admin: {endpoint: file:1}\n")
    cfg = Config(endpoint="mine:1")
    assert cfg.reload() is cfg


def test_for_sandbox_matches_flytekits_preset(home: Path) -> None:
    write(home / ".flyte" / "config.yaml", "admin: {endpoint: ignored:1}\n")
    cfg = Config.for_sandbox()
    assert (cfg.endpoint, cfg.insecure, cfg.auth_mode) == ("localhost:30080", True, AuthType.PKCE)
    assert cfg.storage == StorageConfig("http://localhost:30002", "minio", "miniostorage")
    assert cfg.reload() is cfg


def test_for_endpoint_replaces_endpoint_and_insecure_keeping_the_rest(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(home / ".flyte" / "config.yaml", FULL_YAML)
    cfg = Config.for_endpoint("dns:///other.example.com:443")
    assert (cfg.endpoint, cfg.insecure, cfg.client_id) == ("other.example.com:443", False, "flytepropeller")
    assert cfg.storage.endpoint == "http://minio:9000"
    assert Config.for_endpoint("localhost:8089").insecure is True
    assert Config.for_endpoint("localhost:8089", insecure=False).insecure is False
    storage = StorageConfig(endpoint="http://elsewhere")
    assert Config.for_endpoint("x:1", insecure=True, storage=storage).storage == storage
    monkeypatch.setenv("FLYTE_CREDENTIALS_CLIENT_ID", "changed")
    assert cfg.reload().client_id == "changed" and cfg.reload().endpoint == "other.example.com:443"
    with pytest.raises(ConfigError, match="host:port"):
        Config.for_endpoint("grpc://x:1")


def test_construction_touches_no_network(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(home / ".flyte" / "config.yaml", FULL_YAML)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Config opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    Config.auto().reload()
    Config.for_endpoint("flyte.example.com:443")
    Config.for_sandbox()


def test_configs_are_hashable_values(home: Path) -> None:
    write(home / ".flyte" / "config.yaml", FULL_YAML)
    assert Config.auto() == Config.auto() and hash(Config.auto()) == hash(Config.auto())
    assert len({Config.auto(), Config.auto(), Config.for_sandbox()}) == 2
    assert "SK" not in repr(Config.auto().storage)


# ----------------------------------------------------------------------------------------------------
# Parity with flytekit's own discovery on the same files and variables

_FK_AUTH = {
    "STANDARD": AuthType.PKCE,
    "PKCE": AuthType.PKCE,
    "BASIC": AuthType.CLIENT_SECRET,
    "CLIENT_CREDENTIALS": AuthType.CLIENT_SECRET,
    "CLIENTSECRET": AuthType.CLIENT_SECRET,
    "EXTERNAL_PROCESS": AuthType.EXTERNAL_COMMAND,
    "EXTERNALCOMMAND": AuthType.EXTERNAL_COMMAND,
    "DEVICEFLOW": AuthType.DEVICE_FLOW,
}


def _flytekit_view() -> dict[str, object]:
    """flytekit's ``Config.auto()`` in our field names (its per-process file cache cleared first)."""
    pytest.importorskip("flytekit", reason="flytekit is a test dependency: pip install -e '.[test-flytekit]'")
    from flytekit.configuration import AuthType as FkAuthType
    from flytekit.configuration import Config as FkConfig
    from flytekit.configuration.file import get_config_file

    get_config_file.cache_clear()
    fk = FkConfig.auto()
    p, s3 = fk.platform, fk.data_config.s3
    mode = p.auth_mode if isinstance(p.auth_mode, FkAuthType) else FkAuthType(p.auth_mode)
    return {
        "endpoint": p.endpoint,
        "insecure": p.insecure,
        "insecure_skip_verify": p.insecure_skip_verify,
        "ca_cert_file_path": p.ca_cert_file_path,
        "console_endpoint": p.console_endpoint,
        "http_proxy_url": p.http_proxy_url,
        "auth_mode": _FK_AUTH[mode.name],
        "client_id": p.client_id,
        "client_credentials_secret": p.client_credentials_secret,
        "scopes": tuple(p.scopes),
        "audience": p.audience,
        "command": tuple(p.command) if p.command else None,
        "proxy_command": tuple(p.proxy_command) if p.proxy_command else None,
        "storage": (s3.endpoint, s3.access_key_id, s3.secret_access_key, s3.adressing_style),
    }


def _our_view() -> dict[str, object]:
    cfg = Config.auto()
    view: dict[str, object] = {}
    for name in (
        "endpoint",
        "insecure",
        "insecure_skip_verify",
        "ca_cert_file_path",
        "console_endpoint",
        "http_proxy_url",
        "auth_mode",
        "client_id",
        "client_credentials_secret",
        "scopes",
        "audience",
        "command",
        "proxy_command",
    ):
        view[name] = getattr(cfg, name)
    st = cfg.storage
    view["storage"] = (st.endpoint, st.access_key_id, st.secret_access_key, st.addressing_style)
    return view


SECRET_YAML = """\
admin:
  endpoint: dns:///secret.example.com
  insecure: true
  authType: Pkce
  clientId: robot
  clientSecretLocation: {secret}
  clientSecretEnvVar: PARITY_SECRET
"""


@pytest.mark.flytekit
@pytest.mark.parametrize(
    ("files", "env"),
    [
        ({"home/.flyte/config.yaml": FULL_YAML}, {}),
        ({"home/.flyte/config": FULL_INI}, {}),
        ({"home/.flyte/config.yaml": FULL_YAML, "home/.flyte/config": FULL_INI}, {}),
        ({"work/flytekit.config": FULL_INI, "home/.flyte/config.yaml": FULL_YAML}, {}),
        ({"ctl.yaml": FULL_YAML, "work/flytekit.config": FULL_INI}, {"FLYTECTL_CONFIG": "{root}/ctl.yaml"}),
        (
            {"home/.flyte/config.yaml": FULL_YAML},
            {
                "FLYTE_PLATFORM_URL": "dns:///env.example.com:444",
                "FLYTE_PLATFORM_INSECURE": "off",
                "FLYTE_CREDENTIALS_CLIENT_ID": "env-client",
                "FLYTE_CREDENTIALS_SCOPES": "p,q",
                "FLYTE_CREDENTIALS_AUTH_MODE": "ExternalCommand",
                "FLYTE_AWS_SECRET_ACCESS_KEY": "env-sk",
            },
        ),
        ({"secret": "s3cret\n", "home/.flyte/config.yaml": SECRET_YAML}, {}),
        ({"secret": "s3cret\n", "home/.flyte/config.yaml": SECRET_YAML}, {"PARITY_SECRET": "from-env"}),
        ({}, {"FLYTE_PLATFORM_URL": "only-env.example.com:443", "FLYTE_CREDENTIALS_CLIENT_SECRET": "lit"}),
    ],
    ids=[
        "yaml",
        "ini",
        "ini-beats-yaml",
        "cwd-beats-home",
        "flytectl-config",
        "env",
        "secret-file",
        "secret-env",
        "env-only",
    ],
)
def test_same_result_as_flytekit(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], env: dict[str, str]
) -> None:
    for rel, text in files.items():
        write(tmp_path / rel, text.format(secret=tmp_path / "secret") if rel.endswith("yaml") else text)
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(root=tmp_path))
    ours, theirs = _our_view(), _flytekit_view()
    assert ours == theirs


@pytest.mark.flytekit
def test_presets_match_flytekit(home: Path) -> None:
    pytest.importorskip("flytekit")
    from flytekit.configuration import Config as FkConfig

    sandbox, fk = Config.for_sandbox(), FkConfig.for_sandbox()
    assert (sandbox.endpoint, sandbox.insecure) == (fk.platform.endpoint, fk.platform.insecure)
    s3 = fk.data_config.s3
    assert (sandbox.storage.endpoint, sandbox.storage.access_key_id, sandbox.storage.secret_access_key) == (
        s3.endpoint,
        s3.access_key_id,
        s3.secret_access_key,
    )
    path = write(home / ".flyte" / "config.yaml", FULL_YAML)
    ours, theirs = (
        Config.for_endpoint("x.example.com:443", insecure=True),
        FkConfig.for_endpoint("x.example.com:443", insecure=True, config_file=str(path)),
    )
    assert (ours.endpoint, ours.insecure, ours.client_id, ours.scopes) == (
        theirs.platform.endpoint,
        theirs.platform.insecure,
        theirs.platform.client_id,
        tuple(theirs.platform.scopes),
    )
