"""Many processes on one store: who this one is, work only one of them may do at a time, and
the secrets they must share.

Every process (a worker of ``serve --workers``, or a node on another machine) has a name
(``cluster.node_name``). Work is shared through the store, never through memory:

- a message or an inbox item is claimed by one process for ``cluster.lease_seconds``
  (``OutboxStore.claim_due``, ``InboxStore.claim``): no other process takes it meanwhile,
  and the claims of a process that died run out and are taken over;
- a periodic job (reminders, busy calendars, reconciliation, retention) runs where its
  ``Lease`` is held, renewed at each run: one process at a time, another when it stops;
- the signing keys' fingerprints are kept in the store: a process started with keys that
  share none with them would sign links the others refuse, so it refuses to start
  (``check_secrets``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from feedserver.config import Config
from feedserver.errors import FeedserverError
from feedserver.instance_secrets import InstanceSecrets
from feedserver.store import Store, StoreRunner
from feedserver.times import utcnow

log = logging.getLogger(__name__)

FINGERPRINT = "secrets_fingerprint"
# The periodic jobs one process of the cluster runs at a time.
LEASES = ("reminders", "busy-calendars", "caldav-reconcile", "inbox-retention", "housekeeping")


@dataclass(frozen=True)
class Node:
    name: str
    lease_seconds: float

    def until(self, now: datetime | None = None) -> datetime:
        """When a claim made now runs out."""
        return (now or utcnow()) + timedelta(seconds=self.lease_seconds)


# A process alone on its store (tests, the CLI): any name does.
LOCAL = Node("local", 60.0)


def node_of(config: Config, worker: int | None = None) -> Node:
    """This process: ``cluster.node_name``, or HOSTNAME:PORT (and /wN for a worker)."""
    name = config.cluster.node_name or f"{socket.gethostname()}:{config.server.port}"
    if worker is not None:
        name = f"{name}/w{worker}"
    return Node(name, config.cluster.lease_seconds)


class Lease:
    """A job only one process runs at a time: ``held()`` before each run takes the lease,
    or renews it; a process that stops gives it back (``release``), one that dies loses it
    after ``lease_seconds``."""

    def __init__(
        self, runner: StoreRunner, node: Node, name: str, every_seconds: float = 0
    ) -> None:
        """``every_seconds``: how often the job runs; the lease outlasts one period by half,
        so the holder keeps it from one run to the next."""
        self.runner = runner
        self.node = node
        self.name = name
        self.seconds = max(node.lease_seconds, every_seconds * 1.5)
        self._held = False

    async def held(self) -> bool:
        now = utcnow()
        until = now + timedelta(seconds=self.seconds)
        held = await self.runner.run(lambda s: s.leases.take(self.name, self.node.name, until, now))
        if held != self._held:
            log.info(
                "lease taken" if held else "lease held elsewhere",
                extra={"lease": self.name, "node": self.node.name},
            )
        self._held = held
        return held

    async def release(self) -> None:
        """Give the lease back (a stop), so another process takes the job over at once; when
        the store does not answer, the lease runs out instead."""
        if self._held:
            self._held = False
            try:
                await self.runner.run(lambda s: s.leases.release(self.name, self.node.name))
            except Exception as exc:
                log.warning(
                    "lease not given back; it runs out",
                    extra={"lease": self.name, "error": str(exc)},
                )


class SecretsMismatch(FeedserverError):
    """This process's signing keys are not the ones the other nodes of the store use."""

    code = "secrets_mismatch"


def fingerprints(secrets: InstanceSecrets) -> list[str]:
    """A digest of each signing key, in order: equal when two nodes have the key, and
    telling nothing about it."""
    return [
        hashlib.sha256(
            b"feedserver signing key\x00" + key.encode("utf-8", "surrogatepass")
        ).hexdigest()[:32]
        for key in secrets.secret_keys
    ]


def check_secrets(store: Store, secrets: InstanceSecrets) -> None:
    """The first process to start records its signing keys' fingerprints. A later one must
    share a key with them, or ``SecretsMismatch``: links one signs would fail on the other.
    Sharing one is a rotation (a key added in front, an old one dropped): accepted, and its
    keys become the cluster's (the other nodes need them too, which is logged)."""
    mine = fingerprints(secrets)
    with store.transaction():
        found = store.cluster.get(FINGERPRINT)
        recorded = json.loads(found) if found else None
        if recorded == mine:
            return
        if recorded is not None and not set(recorded) & set(mine):
            raise SecretsMismatch(
                "this node's signing keys share none with those of the nodes already using "
                "this database: links one signs would fail on the other. Give every node the "
                "same secrets: the same security.secrets_file (or a copy of it), or the same "
                "FEEDSERVER_SECURITY_SECRET_KEYS. To replace every key on purpose, run "
                "`feedserver cluster adopt-secrets` with the new ones, then restart the nodes."
            )
        store.cluster.put(FINGERPRINT, json.dumps(mine))
    if recorded is not None:
        log.warning(
            "the signing keys changed (a rotation): give every node the same security.secret_keys",
            extra={"keys": len(mine), "keys_before": len(recorded)},
        )


def adopt_secrets(store: Store, secrets: InstanceSecrets) -> int:
    """Make these signing keys the cluster's (every key replaced); how many there are."""
    mine = fingerprints(secrets)
    with store.transaction():
        store.cluster.put(FINGERPRINT, json.dumps(mine))
    return len(mine)


def keys_state(store: Store, secrets: InstanceSecrets) -> str:
    """Whether these signing keys are the cluster's, in words."""
    found = store.cluster.get(FINGERPRINT)
    if found is None:
        return "none recorded yet (no node has started)"
    recorded, mine = json.loads(found), fingerprints(secrets)
    if recorded == mine:
        return "the cluster's"
    if set(recorded) & set(mine):
        return "a rotation of the cluster's (a node starting with them records them)"
    return "not the cluster's: a node with them refuses to start"
