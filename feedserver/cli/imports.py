"""``feedserver import bookings FILE``: bring an organisation's existing bookings in."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from feedserver import wiring
from feedserver.cli.common import data_dir_errors, load_config
from feedserver.domain import imports
from feedserver.errors import FeedserverError
from feedserver.store import Store

_SHOWN = 50  # refused rows printed; --report has them all


@click.group("import")
def import_group() -> None:
    """Bring existing data in from files."""


@import_group.command("bookings")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "type_key", default="", help="Reservation type of events that name none.")
@click.option("--location", default="", help="Location code of events that name none.")
@click.option("--staff", default="", help="Staff member (email or id) of events without one.")
@click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
@click.option(
    "--chunk",
    default=imports.CHUNK,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Rows per transaction.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the whole report (every refused row) as JSON to this file.",
)
def bookings(
    file: Path,
    type_key: str,
    location: str,
    staff: str,
    dry_run: bool,
    chunk: int,
    report_path: Path | None,
) -> None:
    """Import bookings from FILE: CSV (header type,location,staff,start,end and optionally
    timezone,attendee_email,attendee_name,status,title,notes,rrule,uid) or iCalendar (.ics).

    Every row is checked as the API checks a new booking; refused rows are listed with their
    line and reason, the others imported. Rows already imported (same UID, or the same CSV
    row) are skipped, so a file can be imported again after an interruption. No
    notifications are sent.
    """
    ctx = click.get_current_context()
    config = load_config(ctx.find_root().params.get("config"))
    data = file.read_bytes()
    try:
        rows = list(imports.read_file(data, file.name))
    except FeedserverError as exc:
        raise click.ClickException(f"{file}: {exc.message}") from exc
    with data_dir_errors(config):
        store = Store.scratch(config.database_url) if dry_run else Store(config.database_url)
    try:
        services = wiring.build(config, notify=False)
        importer = imports.Importer(
            store,
            services.quiet_effects,
            services.budget,
            imports.Defaults(type_key, location.upper(), staff),
            imports.Report(dry_run=dry_run),
        )
        label = "checking" if dry_run else "importing"
        with click.progressbar(length=len(rows), label=label, file=sys.stderr) as bar:
            report = imports.import_rows(importer, rows, bar.update, chunk)
    finally:
        store.close()
    for refusal in report.refused[:_SHOWN]:
        where = f" [{refusal.field}]" if refusal.field else ""
        click.echo(f"{file.name}:{refusal.line}: {refusal.reason}{where}", err=True)
    if len(report.refused) > _SHOWN:
        click.echo(f"... and {len(report.refused) - _SHOWN} more (--report FILE)", err=True)
    if report_path is not None:
        report_path.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    verb = "would import" if dry_run else "imported"
    rate = f", {report.rows / report.seconds:,.0f} rows/s" if report.seconds else ""
    click.echo(
        f"{report.rows} rows: {verb} {report.imported}, skipped {report.skipped} already in, "
        f"refused {len(report.refused)} ({report.seconds:.1f} s{rate})"
    )
    if report.refused:
        ctx.exit(1)
