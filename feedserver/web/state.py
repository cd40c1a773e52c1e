"""Typed application state (``web.AppKey``): everything a handler may need, set by create_app."""

from __future__ import annotations

from aiohttp import web

from feedserver.bridge.inbox import InboxService
from feedserver.caldav_bridge.capture import CalendarCapture
from feedserver.caldav_bridge.publisher import BookingsPublisher
from feedserver.caldav_bridge.server import RadicaleServer
from feedserver.config import Config
from feedserver.feeds.links import FeedUrls
from feedserver.feeds.service import FeedService
from feedserver.instance_secrets import InstanceSecrets
from feedserver.notify.effects import BookingEffects
from feedserver.notify.meetings import MeetingService
from feedserver.notify.outbox import OutboxWorker
from feedserver.store import StoreRunner
from feedserver.watcher import ChangeWatcher

CONFIG = web.AppKey("config", Config)
SECRETS = web.AppKey("secrets", InstanceSecrets)
RUNNER = web.AppKey("runner", StoreRunner)
WATCHER = web.AppKey("watcher", ChangeWatcher)
FEEDS = web.AppKey("feeds", FeedService)
FEED_URLS = web.AppKey("feed_urls", FeedUrls)
CALDAV = web.AppKey("caldav", RadicaleServer)
PUBLISHER = web.AppKey("publisher", BookingsPublisher)
MEETINGS = web.AppKey("meetings", MeetingService)
EFFECTS = web.AppKey("effects", BookingEffects)
OUTBOX = web.AppKey("outbox", OutboxWorker)
INBOX = web.AppKey("inbox", InboxService)
CAPTURE = web.AppKey("capture", CalendarCapture)
