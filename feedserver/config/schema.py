"""The configuration schema: every option a field of a frozen dataclass, with its default and
a help text; sections group them. ``schema()`` lists them for the loader, the example file and
the docs."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feedserver.model import ATTENDEE_KINDS


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
    database_url: str = _opt(
        "",
        "Where the store lives: empty or sqlite:///path/file.db for SQLite (the default: "
        "the file `database` names), or postgresql://user:password@host:5432/dbname for "
        "PostgreSQL. Also read from FEEDSERVER_DATABASE_URL.",
    )
    change_poll_ms: int = _opt(
        250,
        "How often the change log is read for writes made by other processes (workers, "
        "other nodes, the CLI), in milliseconds. Writes through this process take effect "
        "immediately; on PostgreSQL every commit also wakes the other nodes at once "
        "(LISTEN/NOTIFY), and this is the fallback.",
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
    secrets_file: str = _opt(
        "",
        "Where the generated secrets (admin token, signing keys) are kept: a JSON file "
        "written once with mode 0600. Empty: DATA_DIR/secrets.json. Nodes of one cluster "
        "share it (or set admin_token and secret_keys in their environment): a node whose "
        "secrets differ from the cluster's refuses to start.",
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
    helo_name: str = _opt(
        "",
        "Name this server gives in EHLO. Empty: the domain of `sender` (no DNS lookup of "
        "the machine's own name, which can hang where DNS is unreachable).",
    )


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
        "en",
        "Language of the web app when neither the person nor the browser picks one: en, fr, "
        "de or es.",
    )


@dataclass(frozen=True)
class ClusterConfig:
    node_name: str = _opt(
        "",
        "This node's name in the claims it makes on shared work (outbox messages, inbox "
        "items, leases). Empty: HOSTNAME:PORT, and /wN for the worker N of "
        "`serve --workers`. Keep it stable across restarts: a node restarted under its name "
        "takes its unfinished claims back at once.",
    )
    lease_seconds: float = _opt(
        60,
        "How long a claim on shared work lasts without renewal: the work of a node that "
        "died is taken over by another after this long. Keep it above smtp.timeout_seconds.",
    )


@dataclass(frozen=True)
class WebhooksConfig:
    retry_schedule_seconds: list[float] = _opt(
        [5, 300, 1800, 7200, 18000, 36000, 36000],
        "Waits between a failed delivery and its next attempt, each made 20% longer or "
        "shorter at random (jitter); after the last the delivery fails. The default is the "
        "Standard Webhooks schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (27 hours).",
    )
    timeout_seconds: float = _opt(
        15, "How long an endpoint has to answer a delivery (connecting included)."
    )
    concurrency: int = _opt(16, "Deliveries sent at once by one process (to any endpoints).")
    allow_private_networks: bool = _opt(
        False,
        "Let webhook URLs reach loopback, private and link-local addresses (off: no delivery "
        "can be aimed at the server's own network).",
    )
    event_retention_days: int = _opt(
        30,
        "How long events stay readable in the change feed (GET /api/changes); a cursor older "
        "than that is answered 410 Gone. Events still waiting for a delivery are kept.",
    )


@dataclass(frozen=True)
class CalendarAccountsConfig:
    retry_schedule_seconds: list[float] = _opt(
        [5, 30, 120, 600, 1800, 3600],
        "Waits after an account's server failed (5xx, 429 without Retry-After, no answer), "
        "each made 20% longer or shorter at random; after the last, that wait again. A 429 "
        "or 503 with Retry-After waits what it says.",
    )
    failing_after_hours: float = _opt(
        24,
        "An account whose writes have failed this long is shown as failing (on its page, "
        "in /healthz and as a busy_calendar.failed-like log line); a refused password or "
        "grant shows it at once.",
    )
    timeout_seconds: float = _opt(20, "How long an account's server has to answer a request.")
    concurrency: int = _opt(
        32, "Accounts written at once by one process (each account one request at a time)."
    )
    per_account_batch: int = _opt(
        25,
        "Bookings of one account written in one turn before other accounts get theirs: one "
        "account with thousands of changes never holds the others back.",
    )
    past_days: int = _opt(
        30, "Bookings that ended up to this many days ago are written too (older ones are not)."
    )
    allow_private_networks: bool = _opt(
        False,
        "Let account servers be on loopback, private and link-local addresses (off: no "
        "request can be aimed at the server's own network).",
    )


@dataclass(frozen=True)
class GoogleConfig:
    client_id: str = _opt(
        "",
        "OAuth 2.0 client id of a Google Cloud project (type Web application) whose redirect "
        "URI is PUBLIC_URL/oauth/google/callback. Empty: Google cannot be connected.",
    )
    client_secret: str = _opt("", "Its client secret.")
    authorize_url: str = _opt(
        "https://accounts.google.com/o/oauth2/v2/auth", "Google's authorization endpoint."
    )
    token_url: str = _opt("https://oauth2.googleapis.com/token", "Google's token endpoint.")
    revoke_url: str = _opt("https://oauth2.googleapis.com/revoke", "Google's revocation endpoint.")
    caldav_url: str = _opt(
        "https://apidata.googleusercontent.com/caldav/v2/", "Google's CalDAV endpoint."
    )
    calendar_api_url: str = _opt(
        "https://www.googleapis.com/calendar/v3",
        "Google Calendar API, used only to create a calendar (Google's CalDAV cannot).",
    )
    scope: str = _opt(
        "https://www.googleapis.com/auth/calendar",
        "The access asked for: Google's CalDAV needs the whole calendar scope.",
    )


@dataclass(frozen=True)
class PushConfig:
    enabled: bool = _opt(
        True, "WebDAV-Push on /dav/: clients such as DAVx5 are told of changes within seconds."
    )
    subscription_days: int = _opt(
        30, "Longest a push subscription lasts unless renewed (a client asking less gets it)."
    )
    merge_ms: int = _opt(
        500, "Changes of one calendar within this time are one push message (bursts merged)."
    )
    ttl_seconds: int = _opt(
        86400, "How long a push service keeps a message for a device that is offline."
    )
    contact: str = _opt(
        "",
        "The VAPID contact (mailto: or https:) push services may write to; empty: mailto: "
        "the SMTP sender.",
    )
    vapid_private_key: str = _opt(
        "",
        "The P-256 key (PEM) that signs push messages (VAPID); clients bind their "
        "subscriptions to its public half. Empty: generated on first run into the secrets file.",
    )
    allow_private_networks: bool = _opt(
        False,
        "Let push resources be on loopback, private and link-local addresses (off: no push "
        "can be aimed at the server's own network).",
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
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    calendar_accounts: CalendarAccountsConfig = field(default_factory=CalendarAccountsConfig)
    google: GoogleConfig = field(default_factory=GoogleConfig)
    push: PushConfig = field(default_factory=PushConfig)

    @property
    def data_dir(self) -> Path:
        return Path(self.storage.data_dir)

    @property
    def secrets_path(self) -> Path:
        """The file of generated secrets."""
        return Path(self.security.secrets_file or self.data_dir / "secrets.json")

    @property
    def database_path(self) -> Path:
        """The SQLite file (also where a PostgreSQL installation's old file would be)."""
        if self.storage.database_url.startswith("sqlite://"):
            return Path(urlsplit(self.storage.database_url).path[1:] or "feedserver.db")
        if self.storage.database:
            return Path(self.storage.database)
        return self.data_dir / "feedserver.db"

    @property
    def database_url(self) -> str:
        """What the store opens: the PostgreSQL URL, or the SQLite file's path."""
        if self.storage.database_url.startswith(("postgresql://", "postgres://")):
            return self.storage.database_url
        return str(self.database_path)

    @property
    def on_postgresql(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

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


def option_type(section: str, option: str) -> Any:
    section_cls = typing.get_type_hints(Config)[section]
    return typing.get_type_hints(section_cls)[option]


def with_changes(config: Config, **sections: Mapping[str, Any]) -> Config:
    """A copy of ``config`` with some options replaced, e.g. ``server={"port": 0}``."""
    replaced = {
        name: dataclasses.replace(getattr(config, name), **changes)
        for name, changes in sections.items()
    }
    return dataclasses.replace(config, **replaced)
