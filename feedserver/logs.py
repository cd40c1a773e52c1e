"""Structured logging: key=value text or JSON lines, each carrying the current request id."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import sys
import threading
import time
from typing import Any, TextIO

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class _StructuredFormatter(logging.Formatter):
    """Collects a record's fields: time, level, logger, message, then every ``extra``."""

    _second = -1
    _stamp = ""

    def _time(self, record: logging.LogRecord) -> str:
        return self._stamp_of(record.created)

    def _stamp_of(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # one strftime per second, not per line
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(second))
        return self._stamp

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        prepared = record.__dict__.get("fields")
        if isinstance(prepared, dict):  # a RequestLog line: its fields are given, no scan
            out.update(prepared)
        else:
            for key, value in record.__dict__.items():  # the ``extra`` fields, in order
                if key not in _RESERVED and key[0] != "_":
                    out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return out


REQUEST_FIELDS = ("request_id", "method", "path", "status", "ms")
# (time, request id, method, path, status, seconds taken): formatted with ``ms``, the seconds
# in milliseconds to two decimals, only when the line is written.
RequestLine = tuple[float, str, str, str, int, float]


class RequestLog:
    """One line per HTTP request on the ``feedserver.http`` logger.

    The request path only appends a tuple; lines are handed to logging in batches, one record
    per batch (``record.request_lines``), every ``interval`` seconds by ``flush_forever``, a
    task of its own (a request never formats the lines of others; only past ``max_pending``
    waiting lines, a bound on memory, does the request that adds one flush them), like a
    buffered access log: building a log record per request cost a third of a cached feed's
    304 throughput. The formatters write one line per request, each with the time of its
    request. Request ids are always of ``[A-Za-z0-9._-]`` (checked or generated).
    """

    def __init__(self, name: str = "feedserver.http", max_pending: int = 100_000) -> None:
        self.logger = logging.getLogger(name)
        self.max_pending = max_pending
        self._pending: list[RequestLine] = []

    def line(self, request_id: str, method: str, path: str, status: int, started: float) -> None:
        """A request that began at ``started`` (``time.time()``) ended now."""
        now = time.time()
        self._pending.append((now, request_id, method, path, status, now - started))
        if len(self._pending) >= self.max_pending:
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending or not self.logger.isEnabledFor(logging.INFO):
            return
        record = logging.LogRecord(
            self.logger.name, logging.INFO, __file__, 0, "request", None, None
        )
        record.created = pending[-1][0]
        record.request_lines = pending
        self.logger.handle(record)

    async def flush_forever(self, interval: float = 0.25) -> None:
        try:
            while True:
                await asyncio.sleep(interval)
                self.flush()
        finally:
            self.flush()


def request_fields(line: RequestLine) -> dict[str, Any]:
    _, rid, method, path, status, seconds = line
    return dict(zip(REQUEST_FIELDS, (rid, method, path, status, _ms(seconds)), strict=True))


def _ms(seconds: float) -> float:
    """Milliseconds to two decimals (never negative: wall-clock time may step back)."""
    return round(max(seconds, 0.0) * 1000, 2)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id of the context that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            rid = request_id.get()
            if rid != "-":
                record.request_id = rid
        return True


class JsonFormatter(_StructuredFormatter):
    def format(self, record: logging.LogRecord) -> str:
        lines = record.__dict__.get("request_lines")
        if lines is not None:
            return "\n".join(self._request(record, line) for line in lines)
        return json.dumps(self.fields(record), default=str, ensure_ascii=False)

    def _request(self, record: logging.LogRecord, line: RequestLine) -> str:
        fields = {
            "time": self._stamp_of(line[0]),
            "level": "info",
            "logger": record.name,
            "msg": "request",
            **request_fields(line),
        }
        return json.dumps(fields, ensure_ascii=False)


class TextFormatter(_StructuredFormatter):
    def format(self, record: logging.LogRecord) -> str:
        lines = record.__dict__.get("request_lines")
        if lines is not None:  # RequestLog: the hot path, formatted directly
            return self._request_lines(record.name, lines)
        prepared = record.__dict__.get("fields")
        if isinstance(prepared, dict):
            tail = " ".join([f"{k}={_quote(v)}" for k, v in prepared.items()])
            level = record.levelname.lower()
            return f"{self._time(record)} {level:7} {record.name}: request {tail}"
        fields = self.fields(record)
        message = str(fields.pop("msg"))
        if not message.replace("\n", "").isprintable():
            message = json.dumps(message, ensure_ascii=False)[1:-1]
        head = f"{fields.pop('time')} {fields.pop('level'):7} {fields.pop('logger')}: {message}"
        exc = fields.pop("exc", None)
        tail = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        line = f"{head} {tail}" if tail else head
        return f"{line}\n{exc}" if exc else line

    def _request_lines(self, logger: str, lines: list[RequestLine]) -> str:
        """A batch of request lines: one time stamp per second and one quoting per path."""
        head = f" info    {logger}: request request_id="
        out: list[str] = []
        append = out.append
        quoted: dict[str, str] = {}
        second, stamp = -1, ""
        for created, rid, method, path, status, seconds in lines:
            if int(created) != second:
                second, stamp = int(created), self._stamp_of(created)
            shown = quoted.get(path)
            if shown is None:
                shown = quoted[path] = _quote(path)
            append(
                f"{stamp}{head}{rid} method={method} path={shown} status={status} "
                f"ms={max(seconds, 0.0) * 1000:.2f}"
            )
        return "\n".join(out)


def _quote(value: Any) -> str:
    """A value as it appears in a text line: quoted (JSON, so control characters such as ESC
    and NUL are escaped, never written raw) when it is empty or not plainly printable."""
    text = str(value)
    if not text or " " in text or '"' in text or not text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return text


class BufferedStreamHandler(logging.StreamHandler[TextIO]):
    """Writes log lines through a 64 KiB buffer instead of one write per line: the buffer is
    flushed every ``interval`` seconds, at once for warnings and errors, and at exit."""

    def __init__(self, fd: int, interval: float = 0.5) -> None:
        stream = open(fd, "w", buffering=1 << 16, encoding="utf-8", closefd=False)  # noqa: SIM115
        super().__init__(stream)
        self._stop = threading.Event()
        self._interval = interval
        threading.Thread(target=self._flusher, name="log-flush", daemon=True).start()

    def _flusher(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self._stop.set()
        self.flush()
        super().close()


def configure(level: str = "INFO", fmt: str = "text") -> None:
    # Our lines carry no thread or process fields: skip collecting them for every record
    # (the optimisation the logging HOWTO recommends).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BufferedStreamHandler(sys.stderr.fileno())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
