"""Configuration: layering, precise errors, generated secrets, and documentation."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import tomllib
import typing
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
    assert set(first.generated) == {"admin_token", "secret_keys", "vapid_private_key"}
    assert first.vapid_private_key.startswith("-----BEGIN PRIVATE KEY-----")
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second = instance_secrets.load_or_create(config)
    assert second.generated == ()
    assert (second.admin_token, second.secret_keys) == (first.admin_token, first.secret_keys)
    assert second.vapid_private_key == first.vapid_private_key  # pushes keep their signer
    assert len(first.admin_token) >= 40


PEM = "-----BEGIN PRIVATE KEY-----\nconfigured\n-----END PRIVATE KEY-----\n"


def test_configured_secrets_win_and_are_not_written(tmp_path: Path) -> None:
    config = config_mod.load(
        None,
        environ={"FEEDSERVER_ADMIN_TOKEN": "configured"},
        overrides={
            "storage.data_dir": str(tmp_path),
            "security.secret_keys": "k1,k0",
            "push.vapid_private_key": PEM,
        },
    )
    loaded = instance_secrets.load_or_create(config)
    assert loaded.vapid_private_key == PEM
    assert loaded.admin_token == "configured"
    assert loaded.secret_keys == ("k1", "k0")
    assert not (tmp_path / "secrets.json").exists()


# -- every option, both ways ---------------------------------------------------------------------

# A valid value, other than the default, for options whose values are constrained; every other
# option gets one derived from its type (see ``_non_default``).
_CHOSEN: dict[str, object] = {
    "server.public_url": "https://bookings.example.org",
    "storage.database_url": "postgresql://feedserver@db.example.org/feedserver",
    "server.port": 9001,
    "logging.level": "DEBUG",
    "logging.format": "json",
    "caldav.log_level": "ERROR",
    "smtp.security": "tls",
    "notifications.language": "fr",
    "notifications.attendee_kinds": ["booked", "cancelled"],
    "notifications.default_reminders": ["30 attendees"],
    "meetings.jitsi_base_url": "https://meet.example.org/",
    "bridge.trusted_senders": ["@example.org", "boss@example.com"],
    "web.default_language": "fr",
    "availability.slot_step_minutes": 30,
    "server.trusted_proxies": ["127.0.0.2", "::1"],
    "security.secret_keys": ["new-key", "old-key"],
    "webhooks.retry_schedule_seconds": [1, 2.5, 60],
    "calendar_accounts.retry_schedule_seconds": [1, 10],
}


def _non_default(key: str, typ: object, default: object) -> object:
    if key in _CHOSEN:
        return _CHOSEN[key]
    if typ is bool:
        return not default
    if typ is int:
        assert isinstance(default, int)
        return default + 7
    if typ is float:
        assert isinstance(default, int | float)
        return default + 1.5
    if typ is str:
        return f"{default}x" if default else "chosen"
    raise AssertionError(f"{key}: add a valid non-default value to _CHOSEN")


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _as_toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v) for v in value) + "]"
    return str(value)


def _every_option() -> list[tuple[str, str, object]]:
    found = []
    for section, options in config_mod.schema().items():
        for name, option in options.items():
            default = (
                option.default
                if option.default_factory is dataclasses.MISSING
                else option.default_factory()
            )
            typ = config_mod.option_type(section, name)
            typ = list if typing.get_origin(typ) is list else typ
            found.append((section, name, _non_default(f"{section}.{name}", typ, default)))
    return found


@pytest.mark.parametrize(("section", "option", "value"), _every_option(), ids=lambda v: str(v)[:40])
def test_every_option_can_be_set_from_toml_and_environment(
    tmp_path: Path, section: str, option: str, value: object
) -> None:
    file = tmp_path / "c.toml"
    file.write_text(f"[{section}]\n{option} = {_as_toml(value)}\n", encoding="utf-8")
    from_file = getattr(getattr(config_mod.load(file, environ={}), section), option)
    variable = f"FEEDSERVER_{section.upper()}_{option.upper()}"
    from_env = getattr(
        getattr(config_mod.load(None, environ={variable: _as_text(value)}), section), option
    )
    assert from_file == value
    assert from_env == value


@pytest.mark.parametrize("text", ["1.5", "2", "0.25"])
def test_decimal_options_take_integers_and_decimals(tmp_path: Path, text: str) -> None:
    file = tmp_path / "c.toml"
    file.write_text(f"[smtp]\nretry_hours = {text}\n[server]\nshutdown_timeout_seconds = {text}\n")
    config = config_mod.load(file, environ={"FEEDSERVER_SECURITY_LOGIN_TARPIT_SECONDS": text})
    assert config.smtp.retry_hours == float(text)
    assert config.server.shutdown_timeout_seconds == float(text)
    assert config.security.login_tarpit_seconds == float(text)


@pytest.mark.parametrize("text", ["'soon'", "true", "nan", "inf"])
def test_a_decimal_option_refuses_what_is_no_number(tmp_path: Path, text: str) -> None:
    file = tmp_path / "c.toml"
    file.write_text(f"[smtp]\nretry_hours = {text}\n")
    with pytest.raises(ConfigError, match=r"\[smtp\] retry_hours: expected a number"):
        config_mod.load(file, environ={})
    with pytest.raises(ConfigError, match="FEEDSERVER_AVAILABILITY_POLL_MINUTES"):
        config_mod.load(None, environ={"FEEDSERVER_AVAILABILITY_POLL_MINUTES": text.strip("'")})
