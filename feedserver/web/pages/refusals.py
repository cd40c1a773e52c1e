"""The domain's refusals in the page's language.

A domain error says what went wrong in English, often with the values concerned ("no booking
12", "'9-12' is not a time (HH:MM)"). Each message the domain makes an error of is an id of the
``errors`` catalogs (``locale/<language>/LC_MESSAGES/errors.po``), read from the source: a
plain string as it is, an f-string with a ``{name}`` for each value it holds (the name of the
variable or attribute, else ``value``). A page translates a refusal by its exact id, or by the
first id whose pattern it matches, the values taken from the English text into the
translation.

``update_catalogs()`` (run by ``make messages``) adds the ids the domain raises to each
catalog and drops those it no longer does; ``tests/test_translations.py``
fails while one has no translation.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from feedserver import errors

DOMAIN = Path(__file__).resolve().parent.parent.parent / "domain"
LOCALE = Path(__file__).parent / "locale"
PLACEHOLDER = re.compile(r"\{([a-z_0-9]+)\}")
LANGUAGES = ("fr", "de", "es")


def _error_classes() -> set[str]:
    return {
        name
        for name, found in inspect.getmembers(errors, inspect.isclass)
        if issubclass(found, errors.FeedserverError)
    }


def _placeholder(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id.lower().strip("_") or "value"
    if isinstance(node, ast.Attribute):
        return node.attr.lower().strip("_") or "value"
    return "value"


def _message_id(node: ast.expr) -> str | None:
    """The id of a message written as ``node`` (a string, an f-string, a sum of them)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        names: list[str] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                base = name = _placeholder(value.value)
                number = 2
                while name in names:
                    name, number = f"{base}_{number}", number + 1
                names.append(name)
                parts.append("{" + name + "}")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _message_id(node.left), _message_id(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def message_ids(domain: Path = DOMAIN) -> dict[str, str]:
    """Every message the domain makes a refusal of (raised, or built and returned): id ->
    where (file:line), in source order."""
    classes = _error_classes()
    found: dict[str, str] = {}
    for path in sorted(domain.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = sorted(
            (n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: n.lineno
        )
        for node in calls:
            if isinstance(node.func, ast.Name) and node.func.id in classes and node.args:
                text = _message_id(node.args[0])
                if text:
                    found.setdefault(text, f"{path.name}:{node.lineno}")
    return found


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    translation: str


def _pattern(message_id: str) -> re.Pattern[str] | None:
    """The English texts ``message_id`` stands for; None for an id without values, or whose
    fixed words are too few to tell it from another message."""
    pieces = PLACEHOLDER.split(message_id)
    fixed, names = pieces[0::2], pieces[1::2]
    if not names or len("".join(fixed).strip()) < 4:
        return None
    regex = "".join(
        re.escape(text) + (f"(?P<{names[i]}>.+?)" if i < len(names) else "")
        for i, text in enumerate(fixed)
    )
    return re.compile(regex, re.DOTALL)


def _filled(translation: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], translation)


@dataclass(frozen=True)
class Refusals:
    """A language's translations of the domain's messages."""

    exact: dict[str, str]
    patterns: tuple[_Pattern, ...]

    def translate(self, text: str) -> str | None:
        found = self.exact.get(text)
        if found is not None:
            return found
        for pattern in self.patterns:
            match = pattern.regex.fullmatch(text)
            if match is not None:
                return _filled(pattern.translation, match.groupdict())
        return None


def _path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "errors.po"


@functools.cache
def refusals(language: str) -> Refusals:
    """The ``errors`` catalog of ``language`` (read once); empty for English."""
    path = _path(language)
    if language == "en" or not path.exists():
        return Refusals({}, ())
    with path.open("rb") as handle:
        read = read_po(handle, locale=language)
    exact: dict[str, str] = {}
    patterns: list[tuple[int, _Pattern]] = []
    for message in read:
        if not message.id or not isinstance(message.string, str) or not message.string:
            continue
        text = str(message.id)
        exact[text] = message.string
        regex = _pattern(text)
        if regex is not None:
            patterns.append((len(PLACEHOLDER.sub("", text)), _Pattern(regex, message.string)))
    # The most fixed words first: "{name} must be a string" must not take "a location code
    # must be a string", which has an id of its own.
    patterns.sort(key=lambda weighted: -weighted[0])
    return Refusals(exact, tuple(pattern for _, pattern in patterns))


def update_catalogs() -> None:
    """Bring each language's ``errors`` catalog to the ids the domain raises now: new ids
    added untranslated, translations kept, ids no longer raised dropped."""
    ids = message_ids()
    for language in LANGUAGES:
        path = _path(language)
        kept: dict[str, str] = {}
        if path.exists():
            with path.open("rb") as handle:
                kept = {
                    str(m.id): m.string
                    for m in read_po(handle, locale=language)
                    if m.id and isinstance(m.string, str)
                }
        catalog = Catalog(locale=language, project="feedserver", fuzzy=False)
        catalog.header_comment = (
            "# The domain's refusals, as a page shows them (feedserver/web/pages/refusals.py).\n"
            "# `make messages` adds the messages the domain raises; {names} are its values."
        )
        for text in ids:
            catalog.add(text, kept.get(text, ""))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, sort_output=False)
        print(f"{path}: {len(ids)} messages, {sum(1 for t in ids if not kept.get(t))} new")
