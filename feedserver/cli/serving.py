"""``feedserver serve``: one process, or a supervising parent and N workers on one port.

With ``--workers N`` the parent prepares what must be done once (the secrets file, the schema,
the CalDAV folder's move into the store), then forks N workers. Each serves the same port
(``SO_REUSEPORT``: the kernel spreads the connections) over the same store, with its own name
(HOSTNAME:PORT/wN) in the claims it makes on shared work. The parent serves nothing: it starts
a worker again when one dies (waiting longer each time one dies young) and, on SIGTERM or
SIGINT, passes the signal on and waits for every worker to drain and stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from types import FrameType

from aiohttp import web

from feedserver import instance_secrets, logs
from feedserver.app import create_app
from feedserver.caldav_bridge import layout
from feedserver.config import Config
from feedserver.store import Store

log = logging.getLogger("feedserver.workers")

YOUNG_SECONDS = 10.0  # a worker that dies sooner than this after its start is restarted later
MAX_RESTART_DELAY = 30.0


def serve_one(config: Config, worker: int | None = None) -> None:
    """Serve in this process until SIGTERM or SIGINT (then drain, and stop)."""
    app = create_app(config, worker)
    log.info(
        "listening",
        extra={"url": config.public_url, "data_dir": str(config.data_dir), "worker": worker},
    )
    web.run_app(
        app,
        host=config.server.host,
        port=config.server.port,
        access_log=None,
        print=None,
        handle_signals=True,
        shutdown_timeout=config.server.shutdown_timeout_seconds,
        reuse_port=True if worker is not None else None,
    )


def prepare(config: Config) -> None:
    """What the workers must find done, done once: the secrets (else each would generate
    its own), the schema, and the CalDAV folder moved into the store."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    instance_secrets.load_or_create(config)
    store = Store(config.database_url)
    try:
        folder = config.data_dir / "caldav"
        if layout.needs_migration(folder):
            layout.migrate_folder(folder, store)
    finally:
        store.close()


class Supervisor:
    def __init__(self, config: Config, count: int) -> None:
        self.config = config
        self.count = count
        self.children: dict[int, int] = {}  # pid -> worker number
        self.started: dict[int, float] = {}  # worker number -> when it last started
        self.delays: dict[int, float] = {}  # worker number -> wait before its next start
        self.stopping: int | None = None  # the signal that stops everything

    def _spawn(self, worker: int) -> None:
        for handler in logging.getLogger().handlers:
            handler.flush()  # else the worker writes the parent's buffered lines again
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                # The log handler's flushing thread stayed in the parent: a new one.
                logs.configure(self.config.logging.level, self.config.logging.format)
                serve_one(self.config, worker)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("worker failed", extra={"worker": worker})
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = worker
        self.started[worker] = time.monotonic()
        log.info("worker started", extra={"worker": worker, "pid": pid})

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = signum
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for worker in range(self.count):
            self._spawn(worker)
        failed = False
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid not in self.children:
                continue
            worker = self.children.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            if self.stopping is not None:
                log.info("worker stopped", extra={"worker": worker, "pid": pid, "code": code})
                failed = failed or code not in (0, -signal.SIGTERM, -signal.SIGINT)
                continue
            lived = time.monotonic() - self.started[worker]
            delay = self.delays.get(worker, 0.5)
            delay = min(delay * 2, MAX_RESTART_DELAY) if lived < YOUNG_SECONDS else 0.5
            self.delays[worker] = delay
            log.error(
                "worker died; starting it again",
                extra={"worker": worker, "pid": pid, "code": code, "restart_in": delay},
            )
            deadline = time.monotonic() + delay
            while self.stopping is None and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.stopping is None:
                self._spawn(worker)
        log.info("stopped", extra={"workers": self.count})
        return 1 if failed else 0


def serve_workers(config: Config, count: int) -> None:
    """Prepare once, then run ``count`` workers until a signal stops them."""
    prepare(config)
    sys.exit(Supervisor(config, count).run())
