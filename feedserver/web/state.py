"""Typed application state (``web.AppKey``): everything a handler may need, set by create_app."""

from __future__ import annotations

from aiohttp import web

from feedserver.busy.sync import BusySync
from feedserver.caldav_bridge.auth import AccountLogins
from feedserver.caldav_bridge.notifier import PushNotifier
from feedserver.caldav_bridge.server import RadicaleServer
from feedserver.calendar_accounts.service import CalendarAccounts
from feedserver.calendar_accounts.writer import AccountWriter
from feedserver.config import Config
from feedserver.domain.feed_links import FeedUrls
from feedserver.domain.meetings import MeetingService
from feedserver.feeds.service import FeedService
from feedserver.inbound.capture import CalendarCapture
from feedserver.inbound.inbox import InboxService
from feedserver.instance_secrets import InstanceSecrets
from feedserver.metrics import Metrics
from feedserver.notify.outbox import OutboxWorker
from feedserver.notify.reminders import ReminderWorker
from feedserver.reactions import BookingEffects
from feedserver.store import StoreRunner
from feedserver.watcher import ChangeWatcher
from feedserver.webhooks.delivery import WebhookWorker
from feedserver.wiring import Services

SERVICES = web.AppKey("services", Services)
CONFIG = web.AppKey("config", Config)
SECRETS = web.AppKey("secrets", InstanceSecrets)
RUNNER = web.AppKey("runner", StoreRunner)
WATCHER = web.AppKey("watcher", ChangeWatcher)
FEEDS = web.AppKey("feeds", FeedService)
FEED_URLS = web.AppKey("feed_urls", FeedUrls)
CALDAV = web.AppKey("caldav", RadicaleServer)
LOGINS = web.AppKey("logins", AccountLogins)
MEETINGS = web.AppKey("meetings", MeetingService)
EFFECTS = web.AppKey("effects", BookingEffects)
OUTBOX = web.AppKey("outbox", OutboxWorker)
WEBHOOKS = web.AppKey("webhooks", WebhookWorker)
REMINDERS = web.AppKey("reminders", ReminderWorker)
BUSY = web.AppKey("busy", BusySync)
INBOX = web.AppKey("inbox", InboxService)
CAPTURE = web.AppKey("capture", CalendarCapture)
METRICS = web.AppKey("metrics", Metrics)
ACCOUNTS = web.AppKey("calendar_accounts", CalendarAccounts)
WRITER = web.AppKey("calendar_writer", AccountWriter)
PUSH = web.AppKey("webdav_push", PushNotifier)


class Draining:
    """Set when the server has begun to stop (SIGTERM): ``/readyz`` then sends load
    balancers elsewhere while the requests in flight finish."""

    def __init__(self) -> None:
        self.since: float | None = None


DRAINING = web.AppKey("draining", Draining)
