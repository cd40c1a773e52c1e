"""Typed application state (``web.AppKey``): everything a handler may need, set by create_app."""

from __future__ import annotations

from aiohttp import web

from feedserver.config import Config
from feedserver.instance_secrets import InstanceSecrets
from feedserver.store import StoreRunner

CONFIG = web.AppKey("config", Config)
SECRETS = web.AppKey("secrets", InstanceSecrets)
RUNNER = web.AppKey("runner", StoreRunner)
