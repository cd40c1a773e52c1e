"""Loading the configuration: defaults, then a TOML file, then the environment, then
command-line flags; each value coerced to its option's type and the whole checked, every error
naming the file or variable, the section and the option."""

from __future__ import annotations

import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from feedserver.config.schema import Config, ConfigError, option_type, schema
from feedserver.model import ATTENDEE_KINDS, MESSAGE_LANGUAGES, parse_reminder

ENV_PREFIX = "FEEDSERVER_"


def _coerce(value: Any, typ: Any, where: str, from_text: bool) -> Any:
    origin = typing.get_origin(typ)
    if origin in (list, types.GenericAlias) or typ is list or origin is list:
        if from_text and isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        item = (typing.get_args(typ) or (str,))[0]
        if item is not str and isinstance(value, list):  # numbers: each one coerced
            return [_coerce(v, item, f"{where}[{i}]", from_text) for i, v in enumerate(value)]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    if typ is bool:
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_text and isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if typ is float:
        return _number(value, where, from_text)
    if typ is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported option type {typ!r}")  # pragma: no cover


def _number(value: Any, where: str, from_text: bool) -> float:
    """A decimal option: a TOML integer or float, or (from the environment) their text;
    finite only (``nan`` and ``inf`` are no durations)."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif from_text and isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ConfigError(f"{where}: expected a number (such as 1.5), got {value!r}")
    return number


def _validate(config: Config) -> None:
    url = config.storage.database_url
    if url and not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        scheme = url.split("://", 1)[0] if "://" in url else url[:20]
        raise ConfigError(
            "[storage] database_url: sqlite:///path/file.db or postgresql://user@host/dbname, "
            f"not {scheme!r}"
        )
    if not 0 <= config.server.port <= 65535:
        raise ConfigError(f"[server] port: {config.server.port} is not a TCP port")
    if config.logging.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"[logging] level: unknown level {config.logging.level!r}")
    if not 1 <= config.availability.slot_step_minutes <= 1440:
        raise ConfigError("[availability] slot_step_minutes: 1 to 1440")
    if config.availability.min_notice_minutes < 0:
        raise ConfigError("[availability] min_notice_minutes: 0 or more")
    if config.web.default_language not in MESSAGE_LANGUAGES:
        raise ConfigError("[web] default_language: 'en', 'fr', 'de' or 'es'")
    if min(config.web.session_days, config.web.reset_link_minutes, config.web.invitation_days) < 1:
        raise ConfigError("[web] session_days, reset_link_minutes, invitation_days: positive")
    if config.logging.format not in ("text", "json"):
        raise ConfigError(
            f"[logging] format: must be 'text' or 'json', not {config.logging.format!r}"
        )
    if config.server.public_url and not config.server.public_url.startswith(
        ("http://", "https://")
    ):
        raise ConfigError("[server] public_url: must start with http:// or https://")
    if config.caldav.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"[caldav] log_level: unknown level {config.caldav.log_level!r}")
    if config.smtp.security not in ("none", "starttls", "tls"):
        raise ConfigError(
            f"[smtp] security: 'none', 'starttls' or 'tls', not {config.smtp.security!r}"
        )
    if config.smtp.max_attempts < 0:
        raise ConfigError("[smtp] max_attempts: must not be negative")
    if config.smtp.retry_hours <= 0:
        raise ConfigError("[smtp] retry_hours: must be positive")
    if config.security.login_attempts < 1 or config.security.login_backoff_seconds <= 0:
        raise ConfigError("[security] login_attempts and login_backoff_seconds: positive")
    if config.caldav.max_requests_per_user < 1:
        raise ConfigError("[caldav] max_requests_per_user: at least 1")
    if (
        min(
            config.recurrence.max_occurrences,
            config.recurrence.max_expand_ms,
            config.recurrence.max_report_occurrences,
        )
        < 1
    ):
        raise ConfigError(
            "[recurrence] max_occurrences, max_expand_ms and max_report_occurrences: at least 1"
        )
    for sender in config.bridge.trusted_senders:
        if "@" not in sender:
            raise ConfigError(
                f"[bridge] trusted_senders: {sender!r} is neither an address nor an @domain"
            )
    if config.notifications.language not in MESSAGE_LANGUAGES:
        raise ConfigError(f"[notifications] language: one of {', '.join(MESSAGE_LANGUAGES)}")
    unknown_kinds = set(config.notifications.attendee_kinds) - set(ATTENDEE_KINDS)
    if unknown_kinds:
        raise ConfigError(f"[notifications] attendee_kinds: unknown {sorted(unknown_kinds)}")
    for rule in config.notifications.default_reminders:
        try:
            parse_reminder(rule)
        except ValueError as exc:
            raise ConfigError(f"[notifications] default_reminders: {exc}") from exc
    if not config.meetings.jitsi_base_url.startswith(("http://", "https://")):
        raise ConfigError("[meetings] jitsi_base_url: must start with http:// or https://")
    if config.caldav.threads < 1:
        raise ConfigError("[caldav] threads: at least 1")
    if config.storage.change_poll_ms < 10:
        raise ConfigError("[storage] change_poll_ms: must be at least 10")
    if config.feeds.usage_flush_seconds < 1:
        raise ConfigError("[feeds] usage_flush_seconds: must be at least 1")
    hooks = config.webhooks
    if not hooks.retry_schedule_seconds or any(w <= 0 for w in hooks.retry_schedule_seconds):
        raise ConfigError("[webhooks] retry_schedule_seconds: one positive wait at least")
    if hooks.timeout_seconds <= 0 or hooks.concurrency < 1:
        raise ConfigError("[webhooks] timeout_seconds and concurrency: positive")
    if hooks.event_retention_days < 1:
        raise ConfigError("[webhooks] event_retention_days: at least 1")
    for name in (
        "window_days_past",
        "window_days_ahead",
        "cache_entries",
        "cache_max_mb",
        "refresh_interval_minutes",
        "max_age_seconds",
    ):
        if getattr(config.feeds, name) < 0:
            raise ConfigError(f"[feeds] {name}: must not be negative")


def load(
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the configuration: defaults < TOML file < environment < ``overrides``.

    ``path`` None means ``FEEDSERVER_CONFIG`` from the environment, or no file at all.
    ``overrides`` maps ``"section.option"`` to already-typed values (command-line flags).
    """
    env = dict(os.environ if environ is None else environ)
    sections = schema()
    values: dict[str, dict[str, Any]] = {name: {} for name in sections}

    if path is None and env.get(ENV_PREFIX + "CONFIG"):
        path = env[ENV_PREFIX + "CONFIG"]
    if path is not None:
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{file}: configuration file not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
        for section_name, section_values in data.items():
            if section_name not in sections:
                raise ConfigError(f"{file}: unknown section [{section_name}]")
            if not isinstance(section_values, dict):
                raise ConfigError(f"{file}: [{section_name}] must be a table")
            for option, value in section_values.items():
                if option not in sections[section_name]:
                    raise ConfigError(f"{file}: [{section_name}] unknown option {option!r}")
                where = f"{file}: [{section_name}] {option}"
                typ = option_type(section_name, option)
                values[section_name][option] = _coerce(value, typ, where, from_text=False)

    for section_name, options in sections.items():
        for option in options:
            var = f"{ENV_PREFIX}{section_name.upper()}_{option.upper()}"
            if var in env:
                typ = option_type(section_name, option)
                where = f"environment {var} ([{section_name}] {option})"
                values[section_name][option] = _coerce(env[var], typ, where, from_text=True)
    if env.get(ENV_PREFIX + "DATABASE_URL"):
        values["storage"]["database_url"] = env[ENV_PREFIX + "DATABASE_URL"]
    if env.get(ENV_PREFIX + "ADMIN_TOKEN"):
        values["security"]["admin_token"] = env[ENV_PREFIX + "ADMIN_TOKEN"]

    for key, value in (overrides or {}).items():
        if value is None:
            continue
        section_name, _, option = key.partition(".")
        if section_name not in sections or option not in sections[section_name]:
            raise ConfigError(f"command line: unknown option {key!r}")
        typ = option_type(section_name, option)
        values[section_name][option] = _coerce(value, typ, f"command line {key}", from_text=True)

    hints = typing.get_type_hints(Config)
    built = {name: hints[name](**values[name]) for name in sections}
    config = Config(**built)
    _validate(config)
    return config
