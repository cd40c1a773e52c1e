"""The layout's rules, read from the source: dependencies point one way, only the store speaks
SQL, nothing silences the type checker, every package and module says what it owns."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "feedserver"

# Lower ranks never import higher ones; two different parts of one rank do not import each
# other (except the foundation, rank 0, whose small modules build on one another).
RANKS = {
    "model": 0,
    "errors": 0,
    "times": 0,
    "config": 0,
    "passwords": 0,
    "tokens": 0,
    "logs": 0,
    "instance_secrets": 0,
    "throttle": 0,
    "metrics": 0,
    "numbers": 0,
    "netguard": 0,
    "store": 1,
    "calendar": 1,
    "domain": 2,
    "watcher": 2,
    "cluster": 2,  # claims, leases and the secrets check of many processes on one store
    "feeds": 3,
    "notify": 3,
    "busy": 3,
    "webhooks": 3,  # delivering events to booking systems' endpoints
    "calendar_accounts": 3,  # writing bookings into people's own calendar accounts
    "caldav_bridge": 3,
    "demo": 3,
    "inbound": 4,  # the bridge's rules tell organizers by email (notify); CalDAV is a source
    "reactions": 5,
    "wiring": 6,
    "web": 7,
    "app": 8,
    "cli": 9,
    "__main__": 10,
}
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b"
)


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _part(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _imported_parts(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "feedserver":
                names = [f"feedserver.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "feedserver" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_part_of_the_package_has_a_rank() -> None:
    parts = {_part(p) for p in _modules()} - {"__init__"}
    assert parts <= set(RANKS), sorted(parts - set(RANKS))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    own = _part(path)
    if own == "__init__":
        return
    rank = RANKS[own]
    for target in _imported_parts(path) - {own, "__version__"}:
        assert target in RANKS, f"{path.name} imports unknown feedserver.{target}"
        upward = RANKS[target] > rank
        sideways = RANKS[target] == rank and rank > 0
        assert not (upward or sideways), (
            f"{path.relative_to(PACKAGE)} ({own}, rank {rank}) imports feedserver.{target} "
            f"(rank {RANKS[target]})"
        )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_store_speaks_sql(path: Path) -> None:
    if _part(path) == "store":
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            assert not SQL.search(node.value), f"SQL in {path.relative_to(PACKAGE)}: {node.value!r}"


def test_the_sql_detector_finds_sql() -> None:
    assert SQL.search("SELECT DISTINCT path FROM caldav_items")
    assert SQL.search("UPDATE inbox SET status = ?")
    assert not SQL.search("select the reservation types from the list")


def test_nothing_silences_the_type_checker() -> None:
    roots = [PACKAGE, *(PACKAGE.parent / name for name in ("tests", "bench", "examples"))]
    offenders = [
        f"{path.name}:{number}"
        for root in roots
        for path in root.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "type: " + "ignore" in line
    ]
    assert offenders == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_says_what_it_owns(path: Path) -> None:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if path.name == "__main__.py":
        return
    assert docstring, f"{path.relative_to(PACKAGE)} has no docstring"


def test_every_package_has_an_opening_docstring() -> None:
    packages = sorted({p.parent for p in _modules() if p.parent != PACKAGE})
    for package in packages:
        init = package / "__init__.py"
        assert init.exists(), f"{package.name} is not a regular package"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), package.name


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if _part(p) == "web"],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_handlers_leave_transactions_and_mail_to_the_domain(path: Path) -> None:
    """HTTP handlers and pages call domain functions; what must happen together (a change and
    the mail it sends) is decided below them, in one transaction."""
    text = path.read_text(encoding="utf-8")
    assert ".transaction()" not in text, f"{path.relative_to(PACKAGE)} opens a transaction"
    assert "account_link_message" not in text, f"{path.relative_to(PACKAGE)} sends mail"


def test_services_are_built_in_one_place() -> None:
    """Signers, throttles and limits are built by ``wiring`` alone (``Wire once``)."""
    built = re.compile(r"\b(LinkSigner|AccountLinks|LoginThrottle|RateLimits)\(")
    for path in _modules():
        if path.name == "wiring.py" or _part(path) in ("tokens", "throttle"):
            continue
        found = built.search(path.read_text(encoding="utf-8"))
        assert found is None, (
            f"{path.relative_to(PACKAGE)} builds {found.group(1) if found else ''}"
        )


def _store_methods() -> list[tuple[str, ast.FunctionDef]]:
    """The public methods of the per-table stores (what the domain calls)."""
    found = []
    for path in sorted((PACKAGE / "store").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Store", "Log")):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                        found.append((f"{path.stem}.{node.name}.{item.name}", item))
    return found


def test_the_store_is_spoken_to_in_the_models_types() -> None:
    """The domain hands the store values of the model (dataclasses, named tuples, enums,
    datetimes), never rows: no public method of a table's store takes a dict, ``Any`` or a
    row, so no caller can name a column."""
    methods = _store_methods()
    assert len(methods) > 100  # the detector sees the stores
    offenders = []
    for name, method in methods:
        arguments = [*method.args.args, *method.args.kwonlyargs]
        for argument in arguments:
            annotation = ast.unparse(argument.annotation) if argument.annotation else ""
            if re.search(r"\bdict\[str, Any\]|\bAny\b|\bRow\b|\bobject\b", annotation):
                offenders.append(f"{name}({argument.arg}: {annotation})")
    assert offenders == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_store_knows_how_values_are_stored(path: Path) -> None:
    """Columns and their formats are the store's: no other part imports its value formats,
    and the domain names no stored time column (``start_utc``: the model says ``start``)."""
    if _part(path) == "store":
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "feedserver.store.values" not in imported
    if _part(path) == "domain":
        columns = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"[a-z]+(_[a-z]+)*_utc", node.value)
        }
        assert columns == set(), f"{path.relative_to(PACKAGE)} names columns {columns}"


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if _part(p) == "store" and p.name not in ("sqlite.py", "postgres.py")],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_the_stores_sql_is_what_both_backends_speak(path: Path) -> None:
    """Outside the two backends, no SQL of one dialect only: ``INSERT OR …`` (PostgreSQL
    says ``ON CONFLICT``), ``PRAGMA``, ``lastrowid`` (``RETURNING id``), an untyped ``? IS
    NULL`` (PostgreSQL cannot tell the parameter's type), SQLite's ``IS ?`` and two-argument
    ``MAX``."""
    text = path.read_text(encoding="utf-8")
    dialect = re.compile(
        r"INSERT\s+OR\s|\bPRAGMA\b|lastrowid|\?\s+IS\s+(NOT\s+)?NULL|\bIS\s+\?|MAX\(\s*MAX\(|\bIFNULL\("
    )
    found = [m.group(0) for m in dialect.finditer(text)]
    assert found == [], f"{path.relative_to(PACKAGE)} uses {found}"
