"""One typed configuration schema: TOML file, then environment, then command-line flags.

Every option is a field of a frozen dataclass with its default and a help text. The example
file ``config/feedserver.example.toml`` documents each of them; ``tests/test_config.py`` fails
when one is missing there.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedserver.numbers import is_whole

ENV_PREFIX = "FEEDSERVER_"


class ConfigError(Exception):
    """A configuration value is missing, unknown or of the wrong type; the message names where."""


def _opt(default: Any, help: str) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ServerConfig:
    host: str = _opt("127.0.0.1", "Address to listen on.")
    port: int = _opt(8080, "TCP port to listen on.")
    public_url: str = _opt(
        "",
        "Base of every link the server prints (feeds, meeting links), e.g. "
        "https://bookings.example.org. Empty: http://HOST:PORT.",
    )
    max_body_bytes: int = _opt(1_048_576, "Largest request body accepted (413 above).")
    max_import_bytes: int = _opt(
        52_428_800,
        "Largest file POST /api/bookings/import accepts (413 above); the CLI has no limit.",
    )
    trusted_proxies: list[str] = _opt(
        [],
        "Addresses of reverse proxies whose X-Forwarded-* and X-Script-Name headers are passed "
        "to the CalDAV server. From any other client those headers are removed.",
    )
    shutdown_timeout_seconds: float = _opt(
        30,
        "On SIGTERM or SIGINT the server closes its listening socket at once, lets the "
        "requests in flight finish for up to this many seconds, then stops its background "
        "work (outbox, inbox, CalDAV) and closes the database.",
    )


@dataclass(frozen=True)
class StorageConfig:
    data_dir: str = _opt("data", "Directory for runtime data: database, secrets, CalDAV storage.")
    database: str = _opt("", "SQLite database file. Empty: DATA_DIR/feedserver.db.")
    change_poll_ms: int = _opt(
        1000,
        "How often the change log is read for writes made by other processes (the CLI), in "
        "milliseconds. Writes through this server's API take effect immediately.",
    )


@dataclass(frozen=True)
class SecurityConfig:
    admin_token: str = _opt(
        "",
        "Bearer token of the bootstrap super-admin (not a personal account). Empty: generated "
        "on first run and kept in DATA_DIR/secrets.json. Also read from FEEDSERVER_ADMIN_TOKEN.",
    )
    secret_keys: list[str] = _opt(
        [],
        "Keys that sign feed and meeting links, newest first: the first signs, all verify, so "
        "a new key can be prepended without breaking links. Empty: one generated on first run.",
    )
    login_attempts: int = _opt(
        5,
        "Failed sign-ins (CalDAV, API) allowed per account and per client address before "
        "each further try must wait (429 with Retry-After).",
    )
    login_backoff_seconds: float = _opt(
        1, "The first wait after login_attempts failures; it doubles with each further failure."
    )
    login_backoff_max_seconds: float = _opt(900, "The longest wait between two sign-in tries.")
    login_tarpit_seconds: float = _opt(
        1.0,
        "A sign-in refused for too many failures (429) is answered after this long (or its "
        "Retry-After, if shorter): a flood of guesses is paced by its own connections. The "
        "wait holds no thread. 0: answer at once.",
    )


@dataclass(frozen=True)
class LoggingConfig:
    level: str = _opt("INFO", "Log level: DEBUG, INFO, WARNING, ERROR.")
    format: str = _opt(
        "text", "Log format: 'text' (key=value pairs) or 'json' (one object a line)."
    )


@dataclass(frozen=True)
class FeedsConfig:
    refresh_interval_minutes: int = _opt(
        60, "Refresh hint sent in feeds (REFRESH-INTERVAL and X-PUBLISHED-TTL), in minutes."
    )
    window_days_past: int = _opt(
        30, "Feeds include bookings that ended at most this many days ago."
    )
    window_days_ahead: int = _opt(
        365, "Feeds include bookings starting at most this many days ahead."
    )
    cache_entries: int = _opt(1024, "Rendered feeds kept in memory (least recently used dropped).")
    cache_max_mb: int = _opt(256, "Memory the rendered-feed cache may use, in MiB.")
    max_age_seconds: int = _opt(300, "Cache-Control max-age sent with feeds.")
    usage_flush_seconds: int = _opt(
        30,
        "How often feed fetch statistics (last fetch, count, client) are written to the database.",
    )
    burst: int = _opt(
        32,
        "At most this many feed requests are answered in one turn of the event loop; the "
        "others wait for the next turns (in order). A flood of feed polls then costs a bounded "
        "slice of each turn and cannot delay API writes, CalDAV and pages. 0: no limit.",
    )


@dataclass(frozen=True)
class CaldavConfig:
    enabled: bool = _opt(True, "Serve CalDAV (embedded Radicale) under /dav/.")
    max_body_bytes: int = _opt(
        10_485_760, "Largest CalDAV request body (a whole calendar on import), in bytes."
    )
    threads: int = _opt(4, "Threads that run Radicale (its file locks block).")
    failed_login_delay_ms: int = _opt(
        1000,
        "Delay before the answer to a failed CalDAV login, in milliseconds (slows password "
        "guessing; it waits in the event loop and holds no thread).",
    )
    max_requests_per_user: int = _opt(
        2,
        "CalDAV requests of one account that Radicale works on at once; more wait their turn "
        "(one account cannot take every thread).",
    )
    login_cache_seconds: int = _opt(
        60, "How long a successful CalDAV login is remembered (revocations end it at once)."
    )
    bookings_calendar_name: str = _opt(
        "Bookings", "Display name of each user's read-only calendar of their bookings."
    )
    log_level: str = _opt("WARNING", "Level of Radicale's own log messages.")


@dataclass(frozen=True)
class SmtpConfig:
    host: str = _opt(
        "",
        "Outgoing mail server. Empty: nothing is sent; notifications wait in the outbox "
        "(GET /api/notifications) until a server is configured.",
    )
    port: int = _opt(587, "Its port (25, 465 for tls, 587 for starttls).")
    security: str = _opt("starttls", "Connection security: 'none', 'starttls' or 'tls'.")
    username: str = _opt("", "Login, if the server wants one.")
    password: str = _opt("", "Password for that login.")
    sender: str = _opt(
        "bookings@localhost",
        "From address, and ORGANIZER of the invitations (replies to invitations come here).",
    )
    sender_name: str = _opt("feedserver", "Display name with the sender address.")
    retry_hours: float = _opt(
        72,
        "How long a notification that cannot be delivered (server down, 4xx) is retried "
        "before it is marked failed; POST /api/notifications/retry queues failed ones again.",
    )
    max_attempts: int = _opt(
        0, "Deliveries tried before a notification is marked failed (0: no limit but retry_hours)."
    )
    retry_base_seconds: int = _opt(
        30, "Wait before the 2nd attempt; it doubles after each failure (capped at 1 hour)."
    )
    timeout_seconds: int = _opt(30, "Timeout of one SMTP conversation.")


MESSAGE_LANGUAGES = ("en", "fr", "de", "es")  # the languages the email catalogs ship in
ATTENDEE_KINDS = (
    "booked",
    "requested",
    "confirmed",
    "changed",
    "cancelled",
    "rejected",
    "reminder",
)
AUDIENCES = ("attendees", "staff")


def parse_reminder(rule: str) -> tuple[int, tuple[str, ...]]:
    """``'60 attendees staff'``: minutes before the start, then who is reminded."""
    minutes, *audience = rule.split()
    if not is_whole(minutes) or not 1 <= int(minutes) <= 60 * 24 * 31:
        raise ValueError(f"{rule!r}: the minutes first, 1 to 44640")
    if not audience or set(audience) - set(AUDIENCES):
        raise ValueError(f"{rule!r}: then one or more of {', '.join(AUDIENCES)}")
    return int(minutes), tuple(sorted(set(audience)))


@dataclass(frozen=True)
class NotificationsConfig:
    language: str = _opt(
        "en",
        "Language of messages to people who chose none: en, fr, de or es (each person's own "
        "language and time zone win).",
    )
    attendee_kinds: list[str] = _opt(
        list(ATTENDEE_KINDS),
        "Messages attendees (customers) receive; remove a kind to turn it off for everyone.",
    )
    default_reminders: list[str] = _opt(
        ["1440 attendees", "60 attendees"],
        "Reminders of types that set none: 'MINUTES AUDIENCE...' (attendees, staff), e.g. "
        "'60 attendees staff' is an hour before, to both. [] turns them off.",
    )
    reminder_poll_seconds: float = _opt(
        30, "How often due reminders are looked for (they are stored: a restart loses none)."
    )
    short_notice_minutes: int = _opt(
        60, "A booking made less than this before its start is 'short notice' (urgent)."
    )


@dataclass(frozen=True)
class MeetingsConfig:
    provider: str = _opt(
        "jitsi",
        "Online meeting provider for types with online = true: 'jitsi' (no account needed) "
        "or the dotted path of a class implementing feedserver.domain.meetings.Provider.",
    )
    jitsi_base_url: str = _opt(
        "https://meet.jit.si/", "Base URL of the Jitsi Meet server rooms are created on."
    )


@dataclass(frozen=True)
class BridgeConfig:
    invite_address: str = _opt(
        "",
        "The address people invite to turn a calendar event into a booking, e.g. "
        "invite@bookings.example.org. Empty: the bridge is off.",
    )
    default_type: str = _opt(
        "", "Reservation type of bridged bookings, unless a CATEGORIES value names a type key."
    )
    smtp_host: str = _opt("127.0.0.1", "Address the inbound SMTP listener binds to.")
    smtp_port: int = _opt(
        0, "Port of the inbound SMTP listener for emailed invitations (0: no listener)."
    )
    webhook_secret: str = _opt(
        "", "Secret for POST /api/inbound in the X-Webhook-Secret header (empty: admin only)."
    )
    max_message_bytes: int = _opt(1_048_576, "Largest inbound message or calendar accepted.")
    require_dkim: bool = _opt(
        True,
        "Accept emailed invitations only with a valid DKIM signature aligned with the From "
        "domain, except from trusted_senders. false: trust the MTA in front to check SPF/DKIM.",
    )
    trusted_senders: list[str] = _opt(
        [],
        "Senders whose emailed invitations need no DKIM signature: addresses "
        "(anna@example.org) or whole domains (@example.org), e.g. mail your own MTA checked.",
    )
    inbox_retention_days: int = _opt(
        30, "Processed, ignored, rejected and failed inbox items are deleted after this many days."
    )
    inbox_quota_mb_per_user: int = _opt(
        50,
        "Inbox space the CalDAV writes of one user may take; past it, new items are recorded "
        "as failed without their content.",
    )
    reconcile_seconds: int = _opt(
        300, "How often CalDAV calendars are compared with what the bridge has seen."
    )
    sender_items_per_hour: int = _opt(
        100,
        "Inbound items one sender may send an hour (all of them at once at most): the "
        "ORGANIZER of a calendar posted to /api/inbound, the From address of an email, the "
        "account of a CalDAV write inviting the invite address. Past it an item is refused "
        "before it is stored: HTTP and CalDAV answer 429 with Retry-After, SMTP 451 (the "
        "sending server tries again later). 0: no limit.",
    )
    source_items_per_hour: int = _opt(
        1000,
        "Inbound items one source may send an hour, whoever their senders: the client "
        "address of POST /api/inbound or of an SMTP connection, the account of a CalDAV "
        "write. Refused as above past it. 0: no limit.",
    )
    inline_max_events: int = _opt(
        50,
        "POST /api/inbound applies an item of at most this many events before it answers "
        "(200 with the outcome). A larger one, one over inline_max_bytes, or a request with "
        "'Prefer: respond-async' is answered 202 with its inbox id (and Location: "
        "/api/inbox/ID) and processed in the background.",
    )
    inline_max_bytes: int = _opt(
        262_144, "Largest item POST /api/inbound applies before it answers (see inline_max_events)."
    )


@dataclass(frozen=True)
class RecurrenceConfig:
    max_occurrences: int = _opt(
        10_000,
        "Most occurrences a recurring event may have in a year, or in all with COUNT; also "
        "the most occurrences one expansion (overlap check) goes through.",
    )
    max_expand_ms: int = _opt(
        200, "Longest time one expansion of a recurrence may take, in milliseconds."
    )
    max_report_occurrences: int = _opt(
        500_000,
        "Most recurrence steps one CalDAV REPORT (time range, expand, free-busy) may make the "
        "server take, estimated from each recurring event's rule, from its start to the end of "
        "the range asked (about a second of work); past it the REPORT answers 403 max-instances.",
    )
    max_report_instances: int = _opt(
        2_000,
        "Most instances of recurring events one CalDAV REPORT may write out one by one (an "
        "expanded calendar-query or multiget, a free-busy query; each costs about half a "
        "millisecond); past it the REPORT answers 403 max-instances.",
    )


@dataclass(frozen=True)
class AvailabilityConfig:
    slot_step_minutes: int = _opt(15, "Free slots start on this grid, counted from local midnight.")
    min_notice_minutes: int = _opt(60, "No slot starts sooner than this from now.")
    poll_minutes: float = _opt(15, "How often staff members' busy calendars are read.")
    horizon_days: int = _opt(180, "How far ahead busy calendars are read (series expanded).")
    max_calendar_bytes: int = _opt(5_000_000, "Largest busy calendar read, in bytes.")
    allow_private_networks: bool = _opt(
        False,
        "Let busy calendar URLs reach loopback, private and link-local addresses (off: no "
        "request can be aimed at the server's own network).",
    )


@dataclass(frozen=True)
class WebConfig:
    session_days: int = _opt(
        14, "How long a web sign-in lasts, in days (signing out or a password change ends it)."
    )
    reset_link_minutes: int = _opt(
        60, "How long a 'forgot password' link works, in minutes (it works once)."
    )
    invitation_days: int = _opt(
        7, "How long an invitation to set a password works, in days (it works once)."
    )
    default_language: str = _opt(
        "en", "Language of the web app when neither the person nor the browser picks one: en, fr."
    )


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    caldav: CaldavConfig = field(default_factory=CaldavConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    notifications: NotificationsConfig = field(default_factory=NotificationsConfig)
    meetings: MeetingsConfig = field(default_factory=MeetingsConfig)
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    recurrence: RecurrenceConfig = field(default_factory=RecurrenceConfig)
    web: WebConfig = field(default_factory=WebConfig)
    availability: AvailabilityConfig = field(default_factory=AvailabilityConfig)

    @property
    def data_dir(self) -> Path:
        return Path(self.storage.data_dir)

    @property
    def database_path(self) -> Path:
        if self.storage.database:
            return Path(self.storage.database)
        return self.data_dir / "feedserver.db"

    @property
    def public_url(self) -> str:
        if self.server.public_url:
            return self.server.public_url.rstrip("/")
        host = self.server.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.server.port}"


def schema() -> dict[str, dict[str, dataclasses.Field[Any]]]:
    """Section name -> option name -> dataclass field (with default and help)."""
    out: dict[str, dict[str, dataclasses.Field[Any]]] = {}
    hints = typing.get_type_hints(Config)
    for section in dataclasses.fields(Config):
        section_cls = hints[section.name]
        out[section.name] = {f.name: f for f in dataclasses.fields(section_cls)}
    return out


def _option_type(section: str, option: str) -> Any:
    section_cls = typing.get_type_hints(Config)[section]
    return typing.get_type_hints(section_cls)[option]


def _coerce(value: Any, typ: Any, where: str, from_text: bool) -> Any:
    origin = typing.get_origin(typ)
    if origin in (list, types.GenericAlias) or typ is list or origin is list:
        if from_text and isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
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
    if not 0 <= config.server.port <= 65535:
        raise ConfigError(f"[server] port: {config.server.port} is not a TCP port")
    if config.logging.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"[logging] level: unknown level {config.logging.level!r}")
    if not 1 <= config.availability.slot_step_minutes <= 1440:
        raise ConfigError("[availability] slot_step_minutes: 1 to 1440")
    if config.availability.min_notice_minutes < 0:
        raise ConfigError("[availability] min_notice_minutes: 0 or more")
    if config.web.default_language not in ("en", "fr"):
        raise ConfigError("[web] default_language: 'en' or 'fr'")
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
                typ = _option_type(section_name, option)
                values[section_name][option] = _coerce(value, typ, where, from_text=False)

    for section_name, options in sections.items():
        for option in options:
            var = f"{ENV_PREFIX}{section_name.upper()}_{option.upper()}"
            if var in env:
                typ = _option_type(section_name, option)
                where = f"environment {var} ([{section_name}] {option})"
                values[section_name][option] = _coerce(env[var], typ, where, from_text=True)
    if env.get(ENV_PREFIX + "ADMIN_TOKEN"):
        values["security"]["admin_token"] = env[ENV_PREFIX + "ADMIN_TOKEN"]

    for key, value in (overrides or {}).items():
        if value is None:
            continue
        section_name, _, option = key.partition(".")
        if section_name not in sections or option not in sections[section_name]:
            raise ConfigError(f"command line: unknown option {key!r}")
        typ = _option_type(section_name, option)
        values[section_name][option] = _coerce(value, typ, f"command line {key}", from_text=True)

    hints = typing.get_type_hints(Config)
    built = {name: hints[name](**values[name]) for name in sections}
    config = Config(**built)
    _validate(config)
    return config


def with_changes(config: Config, **sections: Mapping[str, Any]) -> Config:
    """A copy of ``config`` with some options replaced, e.g. ``server={"port": 0}``."""
    replaced = {
        name: dataclasses.replace(getattr(config, name), **changes)
        for name, changes in sections.items()
    }
    return dataclasses.replace(config, **replaced)


EXAMPLE_HEADER = """\
# feedserver configuration: every option with its default.
#
# Copy this file, uncomment what you change, and start the server with
#   feedserver --config my.toml serve        (or FEEDSERVER_CONFIG=my.toml)
# Each option can also be set in the environment as FEEDSERVER_<SECTION>_<OPTION>,
# for example FEEDSERVER_SERVER_PORT=9000 or FEEDSERVER_SECURITY_SECRET_KEYS="new,old"
# (lists are comma-separated). Command-line flags of `feedserver serve` win over both.
# Secrets left empty are generated on first run into DATA_DIR/secrets.json (mode 0600).
"""


def example_toml() -> str:
    """The documented example configuration (config/feedserver.example.toml is this text)."""
    import json
    import textwrap

    lines = [EXAMPLE_HEADER]
    for section, options in schema().items():
        lines.append(f"[{section}]")
        for name, option in options.items():
            lines.extend(f"# {line}" for line in textwrap.wrap(option.metadata["help"], 94))
            default = (
                option.default
                if option.default_factory is dataclasses.MISSING
                else option.default_factory()
            )
            lines.append(f"# {name} = {json.dumps(default, ensure_ascii=False)}")
            lines.append("")
    return "\n".join(lines)
