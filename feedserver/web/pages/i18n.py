"""The web app's languages: English (the message ids themselves), French, German and Spanish,
from gettext message catalogs (``locale/<language>/LC_MESSAGES/messages.po``, read with Babel,
as the emails' wording is). ``make messages`` extracts the ids (``babel.cfg``: ``_("...")`` in
templates and page modules, ``N_("...")`` where a text is defined apart from where it is shown)
and adds them to each catalog; ``tests/test_translations.py`` fails on any id without a
translation.

The language of a page is the person's setting, else the browser's Accept-Language, else
``[web] default_language``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from babel.messages.pofile import read_po

from feedserver.web.pages import refusals


def N_(text: str) -> str:
    """Marks a message id for the catalogs where it is defined (``_`` translates it where it
    is shown)."""
    return text


# Words that come from data (a status, a role...) and are translated where they are shown.
VOCABULARY = (
    *(N_("confirmed"), N_("pending"), N_("cancelled"), N_("rejected")),
    *(N_("customer"), N_("staff"), N_("admin")),
    *(N_("new"), N_("ok"), N_("unchanged"), N_("error")),  # a busy calendar's last read
    *(N_("accepted"), N_("declined"), N_("tentative"), N_("needs-action")),  # attendees' answers
    *(N_("minutes"), N_("hours"), N_("days")),
    # domain refusals shown beside the working hours they concern
    *(N_("the end must come after the start"), N_("two ranges overlap"), N_("times are HH:MM")),
)

LANGUAGES = {"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español"}
# A person's language: the pages' and the emails' (the same four).
PERSON_LANGUAGES = LANGUAGES
LOCALE = Path(__file__).parent / "locale"  # <language>/LC_MESSAGES/messages.po


@functools.cache
def catalog(language: str) -> dict[str, str]:
    """The translations of a language's catalog (read once, with Babel): message id ->
    text; English is the message ids themselves."""
    path = LOCALE / language / "LC_MESSAGES" / "messages.po"
    if language == "en" or not path.exists():
        return {}
    with path.open("rb") as handle:
        read = read_po(handle, locale=language)
    return {str(m.id): m.string for m in read if m.id and isinstance(m.string, str) and m.string}


def translator(language: str) -> Callable[[str], str]:
    """``_``: a page's text, or a domain refusal (``refusals``), in ``language``."""
    table = catalog(language)
    errors = refusals.refusals(language)

    def translate(text: str) -> str:
        found = table.get(text)
        if found is None and language != "en":
            found = errors.translate(text)
        return text if found is None else found

    return translate


def pick(user_language: str, accept_language: str, default: str) -> str:
    """The person's setting, else the best of the four in Accept-Language, else ``default``."""
    if user_language in LANGUAGES:
        return user_language
    best, best_q = "", 0.0
    for part in accept_language.split(",")[:20]:
        tag, *params = (p.strip() for p in part.split(";"))
        primary = tag.split("-")[0].lower()
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > best_q:
            best, best_q = primary, quality
    return best or default
