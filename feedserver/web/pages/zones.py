"""The time-zone picker's choices: current IANA names only (the ``zone.tab`` of the tzdata
package: one or more zones per country, none of the old aliases such as Asia/Calcutta or
US/Eastern), grouped by region, each named by its city and country in the page's language
(Babel's CLDR data), with UTC and the person's own zone first."""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass

from babel import Locale
from babel.dates import get_timezone_location

from feedserver.web.pages.i18n import N_

# The regions of zone.tab, in the order the picker shows them.
REGIONS = (
    N_("Europe"),
    N_("America"),
    N_("Africa"),
    N_("Asia"),
    N_("Australia"),
    N_("Pacific"),
    N_("Atlantic"),
    N_("Indian"),
    N_("Antarctica"),
    N_("Arctic"),
)


@dataclass(frozen=True)
class Zone:
    name: str  # the IANA name, the value sent
    label: str  # "Paris · France"


@dataclass(frozen=True)
class Region:
    name: str  # English; the page translates it
    zones: tuple[Zone, ...]


@functools.cache
def _table() -> tuple[tuple[str, str], ...]:
    """(country code, zone name) of every current zone."""
    text = (importlib.resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text("utf-8")
    rows = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _, name, *_ = line.split("\t")
            rows.append((country, name))
    return tuple(rows)


@functools.cache
def names() -> frozenset[str]:
    """Every zone the picker offers."""
    return frozenset(name for _, name in _table()) | {"UTC"}


@functools.cache
def regions(language: str) -> tuple[Region, ...]:
    """The picker's groups in ``language`` (en, fr, de, es)."""
    locale = Locale.parse(language)
    grouped: dict[str, list[Zone]] = {region: [] for region in REGIONS}
    for country, name in _table():
        city = get_timezone_location(name, locale=locale, return_city=True)
        if not city or city == name:
            city = name.rsplit("/", 1)[-1].replace("_", " ")
        label = f"{city} · {locale.territories.get(country, country)}"
        grouped[name.split("/", 1)[0]].append(Zone(name, label))
    return tuple(
        Region(region, tuple(sorted(zones, key=lambda z: z.label.casefold())))
        for region, zones in grouped.items()
        if zones
    )


def label_of(name: str, language: str) -> str:
    """A zone's words ("Paris · France"), or its name when it is not one of ours."""
    for region in regions(language):
        for zone in region.zones:
            if zone.name == name:
                return zone.label
    return name
