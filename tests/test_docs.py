"""The docs the tests keep honest: the README is a short front door; `docs/` documents every
configuration option, command and HTTP route (its reference parts are what `make docs` writes
from the code); and no link inside the docs is broken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from feedserver import config as config_mod
from feedserver.cli import main, reference
from feedserver.config import ENV_PREFIX
from feedserver.model import EVENT_TYPES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)
CODE_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def test_the_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 260, len(lines)
    text = "\n".join(lines)
    assert "make run" in text and "make test" in text
    for page in sorted(DOCS.glob("*.md")):
        assert f"(docs/{page.name})" in text, f"the README does not link docs/{page.name}"


def test_the_readme_s_event_list_is_what_make_docs_writes() -> None:
    found = reference.readme_events_part((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found.strip() == reference.readme_events().strip(), "run `make docs`"
    for name in EVENT_TYPES:
        assert f"| `{name}` |" in found


@pytest.mark.parametrize("name", ["configuration.md", "cli.md", "api.md", "sync.md"])
def test_the_reference_parts_are_what_make_docs_writes(name: str) -> None:
    expected = reference.sections(main)[name]
    found = reference.generated_part((DOCS / name).read_text(encoding="utf-8"))
    assert found.strip() == expected.strip(), f"docs/{name} is out of date: run `make docs`"


def test_every_option_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for section, options in config_mod.schema().items():
        assert f"### `[{section}]`" in text, section
        for option in options:
            assert f"`{ENV_PREFIX}{section.upper()}_{option.upper()}`" in text, option


def test_every_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    paths = [path for path, _ in reference.commands(main)]
    assert "feedserver serve" in paths and "feedserver feeds create" in paths
    for path in paths:
        assert f"### `{path}`" in text, path


def test_every_route_is_documented() -> None:
    from feedserver.app import create_app
    from feedserver.web import openapi

    text = (DOCS / "api.md").read_text(encoding="utf-8")
    app = create_app(config_mod.load(None, environ={"FEEDSERVER_STORAGE_DATA_DIR": "/nonexistent"}))
    routes = sorted(set(openapi.routes_of(app)))
    assert len(routes) > 60
    for method, path in routes:
        assert f"| {method} | `{path}` |" in text, (method, path)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = CODE_BLOCK.sub("", page.read_text(encoding="utf-8"))
    return {_slug(h) for h in HEADING.findall(text)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_link_inside_the_docs_is_broken(page: Path) -> None:
    text = CODE_BLOCK.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:, webcal:
            continue
        file_part, _, anchor = target.partition("#")
        destination = (page.parent / file_part).resolve() if file_part else page
        if not destination.exists() or (
            anchor and destination.suffix == ".md" and anchor not in _anchors(destination)
        ):
            broken.append(target)
    assert not broken, f"{page.name}: {broken}"


def test_the_link_checker_finds_broken_links(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Top\n\n[here](#top) [gone](missing.md) [nowhere](#no-such)\n")
    text = page.read_text()
    targets = [m.group(1) for m in LINK.finditer(text)]
    assert targets == ["#top", "missing.md", "#no-such"]
    assert _anchors(page) == {"top"}


def test_every_event_body_matches_its_openapi_schema() -> None:
    from jsonschema import Draft202012Validator

    from feedserver.cli import event_examples
    from feedserver.web import openapi

    for name, body in event_examples.examples().items():
        schema = {
            **openapi.event_schema(name),
            "components": {"schemas": {"Booking": {"type": "object"}}},
        }
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(body)]
        assert errors == [], (name, errors)
        broken = {**body, "data": {**body["data"], "booking": None}, "type": "x"}
        assert list(Draft202012Validator(schema).iter_errors(broken)), name  # it can fail
    assert set(openapi._webhooks()) == set(EVENT_TYPES)
