"""Configuration: layering, precise errors, generated secrets, and documentation."""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import tomllib
from pathlib import Path

import pytest

from feedserver import config as config_mod
from feedserver import instance_secrets
from feedserver.config import ConfigError

EXAMPLE = Path(__file__).parent.parent / "config" / "feedserver.example.toml"


def test_defaults_without_any_file() -> None:
    config = config_mod.load(None, environ={})
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.data_dir == Path("data")
    assert config.database_path == Path("data/feedserver.db")
    assert config.public_url == "http://127.0.0.1:8080"


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text(
        '[server]\nport = 9000\nhost = "0.0.0.0"\n[security]\nsecret_keys = ["a", "b"]\n'
    )
    env = {"FEEDSERVER_SERVER_PORT": "9100", "FEEDSERVER_ADMIN_TOKEN": "tok"}
    config = config_mod.load(file, environ=env, overrides={"server.host": "::1"})
    assert config.server.port == 9100
    assert config.server.host == "::1"
    assert config.security.secret_keys == ["a", "b"]
    assert config.security.admin_token == "tok"
    assert config.public_url == "http://[::1]:9100"


def test_config_file_from_environment(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text('[server]\npublic_url = "https://bookings.example.org/"\n')
    config = config_mod.load(None, environ={"FEEDSERVER_CONFIG": str(file)})
    assert config.public_url == "https://bookings.example.org"


def test_list_from_environment_is_comma_separated() -> None:
    env = {"FEEDSERVER_SECURITY_SECRET_KEYS": "new, old"}
    assert config_mod.load(None, environ=env).security.secret_keys == ["new", "old"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = 'x'\n", r"c\.toml: \[server\] port: expected an integer"),
        ("[server]\nprot = 1\n", r"c\.toml: \[server\] unknown option 'prot'"),
        ("[sever]\n", r"c\.toml: unknown section \[sever\]"),
        ("[server\n", r"c\.toml: not valid TOML"),
        ("[logging]\nlevel = 'LOUD'\n", r"\[logging\] level"),
    ],
)
def test_errors_name_file_section_and_option(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "c.toml"
    file.write_text(text)
    with pytest.raises(ConfigError, match=message):
        config_mod.load(file, environ={})


def test_environment_error_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"FEEDSERVER_SERVER_PORT \(\[server\] port\)"):
        config_mod.load(None, environ={"FEEDSERVER_SERVER_PORT": "eighty"})


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: configuration file not found"):
        config_mod.load(tmp_path / "nope.toml", environ={})


def _documented() -> dict[str, dict[str, object]]:
    """The example file with its commented option lines uncommented, parsed as TOML."""
    lines = []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^# ?([a-z_]+ = .*)$", line)
        lines.append(match.group(1) if match else line)
    return tomllib.loads("\n".join(lines))


def test_every_option_is_documented_with_its_default() -> None:
    documented = _documented()
    for section, options in config_mod.schema().items():
        assert section in documented, f"section [{section}] missing from the example"
        for name, field in options.items():
            assert name in documented[section], f"[{section}] {name} is not documented"
            default = (
                field.default
                if field.default_factory is dataclasses.MISSING
                else field.default_factory()
            )
            assert documented[section][name] == default, f"[{section}] {name}: wrong default"
            assert field.metadata["help"].split()[0] in EXAMPLE.read_text(), name
    extra = {(s, o) for s, opts in documented.items() for o in opts} - {
        (s, o) for s, opts in config_mod.schema().items() for o in opts
    }
    assert not extra, f"documented options that do not exist: {extra}"


def test_example_file_is_the_generated_one() -> None:
    """Regenerate with: feedserver example-config > config/feedserver.example.toml"""
    assert EXAMPLE.read_text(encoding="utf-8") == config_mod.example_toml()


def test_example_file_loads_as_configuration() -> None:
    config_mod.load(EXAMPLE, environ={})


def test_secrets_generated_once_with_mode_0600(tmp_path: Path) -> None:
    config = config_mod.load(None, environ={}, overrides={"storage.data_dir": str(tmp_path)})
    first = instance_secrets.load_or_create(config)
    assert set(first.generated) == {"admin_token", "secret_keys"}
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = instance_secrets.load_or_create(config)
    assert second.generated == ()
    assert (second.admin_token, second.secret_keys) == (first.admin_token, first.secret_keys)
    assert len(first.admin_token) >= 40


def test_configured_secrets_win_and_are_not_written(tmp_path: Path) -> None:
    config = config_mod.load(
        None,
        environ={"FEEDSERVER_ADMIN_TOKEN": "configured"},
        overrides={"storage.data_dir": str(tmp_path), "security.secret_keys": "k1,k0"},
    )
    loaded = instance_secrets.load_or_create(config)
    assert loaded.admin_token == "configured"
    assert loaded.secret_keys == ("k1", "k0")
    assert not (tmp_path / "secrets.json").exists()
