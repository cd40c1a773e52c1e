"""The layout of the CalDAV folder (``<data_dir>/caldav``), versioned by a marker file.

Layout 1 (feedserver before the bookings calendars were served from the store) kept a copy of
every booking in ``collection-root/<user>/bookings/``. Layout 2 has none: those folders are
removed once, at the first start, before Radicale opens the folder. Users' own calendars are
untouched (a user could never create one named ``bookings``: the guard refuses it).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from feedserver.caldav_bridge.rights import BOOKINGS

log = logging.getLogger(__name__)

LAYOUT = 2
MARKER = ".feedserver-layout"


def current(folder: Path) -> int:
    """The folder's layout: 1 for a folder written before the marker existed."""
    marker = folder / MARKER
    if marker.exists():
        return int(marker.read_text().strip() or "1")
    return 1 if (folder / "collection-root").exists() else LAYOUT


def upgrade(folder: Path) -> int:
    """Bring the folder to the current layout; returns how many copies were removed."""
    removed = 0
    if current(folder) < 2:
        root = folder / "collection-root"
        for copy in sorted(root.glob(f"*/{BOOKINGS}")):
            if copy.is_dir():
                shutil.rmtree(copy)
                removed += 1
        log.info(
            "CalDAV folder upgraded: the published copies of the bookings are removed",
            extra={"folder": str(folder), "calendars_removed": removed},
        )
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / MARKER
    if not marker.exists() or marker.read_text().strip() != str(LAYOUT):
        marker.write_text(f"{LAYOUT}\n")
    return removed
