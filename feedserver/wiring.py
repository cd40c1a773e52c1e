"""Wire once: every service that the configuration decides is built here, once, and both the
application factory (``feedserver.app``) and the command line (``feedserver.cli``) take them
from ``build``. Long-running parts (the store thread, workers, Radicale) are started by the
application's contexts; what is built here holds no thread and opens nothing (the login
throttles and rate limits are policies: their counters are in the store, shared by every
process).
"""

from __future__ import annotations

from dataclasses import dataclass

from feedserver import instance_secrets
from feedserver.calendar.rrules import RecurrenceBudget
from feedserver.cluster import Node, node_of
from feedserver.config import Config
from feedserver.domain import events, reminders
from feedserver.domain.feed_links import FeedUrls
from feedserver.domain.meetings import MeetingService, MeetingUrls, load_provider
from feedserver.inbound.mail import dkim_valid
from feedserver.inbound.pipeline import Pipeline
from feedserver.instance_secrets import InstanceSecrets
from feedserver.model import parse_reminder
from feedserver.notify.accounts import AccountMail
from feedserver.notify.planner import Notifier
from feedserver.reactions import BookingEffects
from feedserver.throttle import LoginThrottle, RateLimits
from feedserver.tokens import LinkSigner
from feedserver.tokens.account_links import AccountLinks
from feedserver.tokens.credentials import CredentialBox


@dataclass(frozen=True)
class Services:
    config: Config
    secrets: InstanceSecrets
    feed_urls: FeedUrls  # its signer also verifies feed tokens
    meetings: MeetingService
    effects: BookingEffects  # what a booking change does in its transaction
    pipeline: Pipeline | None  # the bridge's rules; None when the bridge is off
    budget: RecurrenceBudget  # what any recurrence may cost
    throttle: LoginThrottle  # failed HTTP Basic sign-ins (API, CalDAV), per account and address
    web_throttle: LoginThrottle  # failed sign-ins, resets and bootstraps on the web pages
    inbound_limits: RateLimits  # the bridge's items per sender and per source
    account_mail: AccountMail  # invitation and reset links, signed and emailed
    node: Node  # this process, as the others sharing the store know it
    box: CredentialBox  # seals what must be given back: CalDAV passwords, webhook secrets

    @property
    def notifier(self) -> Notifier | None:
        return self.effects.notifier

    @property
    def quiet_effects(self) -> BookingEffects:
        """Booking changes that make their online meetings but notify nobody (imports)."""
        return BookingEffects(
            self.meetings,
            None,
            self.effects.reminder_rules,
            self.budget,
            events.Origin("import"),
        )


def bridge_on(config: Config) -> bool:
    return bool(config.bridge.invite_address)


def recurrence_budget(config: Config) -> RecurrenceBudget:
    return RecurrenceBudget(
        config.recurrence.max_occurrences, config.recurrence.max_expand_ms / 1000
    )


def reminder_rules(config: Config) -> reminders.Rules:
    """The organisation's default reminders, most minutes first."""
    parsed = dict(parse_reminder(rule) for rule in config.notifications.default_reminders)
    return tuple(sorted(parsed.items(), reverse=True))


def build(config: Config, notify: bool = True) -> Services:
    """The services of ``config``. With ``notify`` False (the demo loader), booking changes
    make their online meetings but queue no notification."""
    secrets = instance_secrets.load_or_create(config)
    keys = secrets.secret_keys
    feed_urls = FeedUrls(config.public_url, LinkSigner(keys, "feed-link"))
    meetings = MeetingService(
        load_provider(config), MeetingUrls(config.public_url, LinkSigner(keys, "meeting-link"))
    )
    notifier = Notifier(config, meetings, feed_urls) if notify else None
    budget = recurrence_budget(config)
    effects = BookingEffects(meetings, notifier, reminder_rules(config), budget)
    pipeline = None
    if bridge_on(config):
        bridge = config.bridge
        pipeline = Pipeline(
            bridge.invite_address,
            bridge.default_type,
            effects,
            notifier,
            dkim_valid if bridge.require_dkim else None,
            bridge.trusted_senders,
            budget,
        )
    bridge = config.bridge
    return Services(
        config,
        secrets,
        feed_urls,
        meetings,
        effects,
        pipeline,
        budget,
        throttle=login_throttle(config),
        web_throttle=login_throttle(config),
        inbound_limits=RateLimits(
            {"sender": bridge.sender_items_per_hour, "source": bridge.source_items_per_hour}
        ),
        account_mail=AccountMail(
            invitations=AccountLinks(keys, "invitation", config.web.invitation_days * 86400),
            reset_links=AccountLinks(keys, "password_reset", config.web.reset_link_minutes * 60),
            public_url=config.public_url,
            language=config.notifications.language,
            sender_name=config.smtp.sender_name,
        ),
        node=node_of(config),
        box=CredentialBox(keys),
    )


def login_throttle(config: Config) -> LoginThrottle:
    security = config.security
    return LoginThrottle(
        security.login_attempts, security.login_backoff_seconds, security.login_backoff_max_seconds
    )
