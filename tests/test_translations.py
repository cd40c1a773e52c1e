"""The web app in every language: each message id the pages use (``_("...")`` in the templates
and page modules, ``N_("...")`` where a text is defined apart from where it is shown: the
extraction ``make messages`` runs, with ``babel.cfg``) has a translation in the French, German
and Spanish catalogs, with the same ``{placeholders}``; so has each message the domain raises
(the ``errors`` catalogs of ``feedserver.web.pages.refusals``), its values carried into the
translation; and pages come out in each language."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from feedserver.web.pages import i18n, refusals
from tests.test_web_pages import pages  # noqa: F401 - fixture shared by import
from tests.webhelp import Pages

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "N_": None, "PageRefused": (2,)}  # as `make messages` extracts
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def message_ids() -> dict[str, str]:
    """Every message id the pages use: id -> where it is first used."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "babel.cfg")
    method_map = [
        (pattern.strip(), method.strip())
        for method, _, pattern in (section.partition(":") for section in parser.sections())
    ]
    found: dict[str, str] = {}
    for name, line, message, _, _ in extract_from_dir(str(ROOT), method_map, {}, keywords=KEYWORDS):
        text = message[0] if isinstance(message, tuple) else message
        if text:
            found.setdefault(text, f"{name}:{line}")
    return found


IDS = message_ids()


def test_the_pages_use_hundreds_of_message_ids() -> None:
    assert len(IDS) > 400
    assert "Working hours" in IDS and "confirmed" in IDS and "Monday" in IDS


@pytest.mark.parametrize("language", ["fr", "de", "es"])
def test_every_page_string_has_a_translation(language: str) -> None:
    table = i18n.catalog(language)
    missing = [f"{where}: {text!r}" for text, where in IDS.items() if not table.get(text)]
    assert missing == [], f"{len(missing)} without a {language} translation (make messages)"
    wrong = [
        text
        for text in IDS
        if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(table[text]))
    ]
    assert wrong == [], "a translation must keep the {placeholders} of its id"


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", ("Heures de travail", "lundi", "Toujours disponible")),
        ("de", ("Arbeitszeiten", "Montag", "Immer verfügbar")),
        ("es", ("Horario de trabajo", "lunes", "Siempre disponible")),
    ],
)
async def test_a_staff_members_page_comes_out_in_their_language(
    pages: Pages, api: Any, language: str, words: tuple[str, ...]
) -> None:
    await api.patch("/api/users/camille@example.org", {"language": language})
    await pages.sign_in("camille@example.org", "camille-password")
    html = await pages.get("/availability")
    assert f'<html lang="{language}">' in html
    for word in words:
        assert word in html
    assert "Working hours" not in html


async def test_the_browsers_language_picks_german_or_spanish(client: Any) -> None:
    html = await (await client.get("/", headers={"Accept-Language": "de-AT, en;q=0.5"})).text()
    assert 'lang="de"' in html and "Anmelden" in html
    html = await (await client.get("/", headers={"Accept-Language": "es-MX"})).text()
    assert 'lang="es"' in html and "Iniciar sesión" in html


def test_the_errors_catalogs_hold_what_the_domain_raises_translated() -> None:
    raised = refusals.message_ids()
    assert len(raised) > 100 and "no booking {booking_id}" in raised
    for language in refusals.LANGUAGES:
        path = refusals.LOCALE / language / "LC_MESSAGES" / "errors.po"
        with path.open("rb") as handle:
            kept = {str(m.id): m.string for m in read_po(handle, locale=language) if m.id}
        assert set(kept) == set(raised), f"{language}: run make messages"
        untranslated = [f"{raised[t]}: {t!r}" for t, s in kept.items() if not s]
        assert untranslated == [], f"{len(untranslated)} refusals without a {language} text"
        wrong = [
            t
            for t, s in kept.items()
            if set(PLACEHOLDER.findall(t)) != set(PLACEHOLDER.findall(str(s)))
        ]
        assert wrong == [], "a translation must keep the {values} of its message"


def test_a_refusal_with_its_values_is_translated_and_keeps_them() -> None:
    french = i18n.translator("fr")
    assert french("no booking 12") == "aucune réservation 12"
    assert french("'9-12' is not a time (HH:MM)") == "'9-12' n'est pas une heure (HH:MM)"
    assert (
        french("a location code must be a string") == "un code de lieu est une chaîne de caractères"
    )
    assert french("unknown field 'x'") == "champ inconnu 'x'"  # built by the schema check
    assert french("iCloud") == "iCloud"  # neither a page text nor a refusal: as it is
    assert i18n.translator("en")("no booking 12") == "no booking 12"


async def test_a_french_page_shows_a_domain_refusal_in_french(pages: Pages, api: Any) -> None:
    await api.patch("/api/users/alice@example.com", {"language": "fr"})
    await pages.sign_in("alice@example.com", "alice-password")
    await pages.get("/links")
    _, html = await pages.post("/links", [("name", "x"), ("types", "nope")], status=422)
    assert "type de réservation inconnu &#39;nope&#39;" in html
    assert "unknown reservation type" not in html
