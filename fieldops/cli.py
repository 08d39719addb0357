"""The `fieldops` command: migrate, init, run, demo, import, prune, audit verify and
checkpoint."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from domain.cases import review_reasons
from domain.ledgers import device_imports, qualification_basis, staff_imports
from domain.ledgers.ledger_csv import ImportReport
from domain.people import staff
from domain.people.bootstrap import create_first_sysadmin
from domain.platform import audit, housekeeping
from domain.platform.actors import system_actor
from domain.platform.errors import DomainError
from fieldops import db
from fieldops.bootstrap import Graph, bootstrap
from fieldops.settings import SettingsError, load_settings
from locales import translate
from scheduler.jobs import prune_bookkeeping, write_audit_checkpoint

log = logging.getLogger("fieldops")


def progress_bar(done: int, total: int, label: str) -> None:
    """Draw a one-line progress bar on stderr."""
    width = 30
    filled = int(width * done / total) if total else width
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label:<20}{end}")
    sys.stderr.flush()


def migration_progress(event: str, app_label: str, name: str) -> None:
    """Print each migration as it is applied."""
    if event == "apply_done":
        print(f"applied {app_label}.{name}")


async def cmd_migrate(graph: Graph, _: argparse.Namespace) -> int:
    """Apply every committed migration, then add any missing standard review reason."""
    settings = graph.settings
    pending = await db.pending_migrations(settings.database_url)
    if pending:
        await db.apply_migrations(settings.database_url, progress=migration_progress)
        print(f"{len(pending)} migration(s) applied")
    else:
        print("database is up to date")
    sealed = await audit.seal_legacy_rows()
    if sealed:
        print(f"audit log: {sealed} earlier row(s) sealed under the audit key")
    added = await review_reasons.seed_default_reasons()
    if added:
        print(f"{added} standard review reason(s) added")
    return 0


async def cmd_makemigrations(graph: Graph, args: argparse.Namespace) -> int:
    """Write a migration for model changes (developers)."""
    written = await db.make_migrations(graph.settings.database_url, args.name)
    print("\n".join(written) if written else "no changes detected")
    return 0


async def cmd_init(graph: Graph, args: argparse.Namespace) -> int:
    """Migrate and create the first system admin from flags or prompts."""
    settings = graph.settings
    await db.apply_migrations(settings.database_url, progress=migration_progress)
    username = args.username or await _ask("admin user name: ")
    name = args.name or await _ask("real name: ")
    employee_no = args.employee_no or await _ask("employee number: ")
    password = args.password or await asyncio.to_thread(getpass.getpass, "password: ")
    try:
        await create_first_sysadmin(
            username=username, password=password, name=name, employee_no=employee_no,
            org_code=args.org_code, org_name=args.org_name, policy=graph.admin.login.passwords,
        )
    except DomainError as err:
        print(translate(settings.default_locale, err.key, **err.params), file=sys.stderr)
        return 1
    print(f"system admin {username} created; log in at http://{settings.web_host}:"
          f"{settings.web_port}/login")
    return 0


async def _ask(prompt: str) -> str:
    return (await asyncio.to_thread(input, prompt)).strip()


async def cmd_reset_password(graph: Graph, args: argparse.Namespace) -> int:
    """Issue a new one-time password for a web log-in on the server, a system admin's too,
    audited as the system with the operator's OS user name; print it (S3)."""
    actor = system_actor(f"cli:{getpass.getuser()}")
    try:
        password = await staff.reset_password_on_server(actor, args.username)
    except DomainError as err:
        print(translate(graph.settings.default_locale, err.key, **err.params), file=sys.stderr)
        return 1
    print(f"one-time password for {args.username}: {password}")
    print("it must be replaced at the first log-in; the log-in's sessions have ended")
    return 0


async def cmd_demo(graph: Graph, _: argparse.Namespace) -> int:
    """Seed the demo org tree and staff; print log-ins and bind codes."""
    from fieldops.demo import DEMO_PASSWORD, seed_demo

    settings = graph.settings
    await db.apply_migrations(settings.database_url)
    result = await seed_demo(progress_bar, graph.capture, graph.calendar)
    base = f"http://{settings.web_host}:{settings.web_port}"
    print(f"\nAdmin site: {base}/login   password for every demo log-in: {DEMO_PASSWORD}")
    for username, name, roles in result.logins:
        print(f"  {username:<14} {name:<6} {roles}")
    print(f"\nCapture a demo case without Telegram: log in as agent1, open Chat ({base}/chat), "
          "send /new and follow the buttons; photos are uploaded from files.")
    print("agent5 shows the capture gate refusing: his qualifications are suspended and his "
          "tablet was reported lost (see /qualifications, /devices and /incidents as ops or it).")
    print("\nBind codes for the field agents (valid 10 minutes; send /start CODE to the bot):")
    for employee_no, name, code in result.bind_codes:
        print(f"  {employee_no} {name:<6} {code}")
    return 0


async def cmd_audit_verify(graph: Graph, args: argparse.Namespace) -> int:
    """Check the keyed audit chain and compare it with the checkpoints; print the first
    break (S3)."""
    path = Path(args.checkpoint) if args.checkpoint else graph.settings.audit_checkpoint_file
    marks: list[audit.Checkpoint] = []
    if args.checkpoint or path.exists():
        try:
            marks = await asyncio.to_thread(audit.read_checkpoints, path, args.allow_unsigned)
        except audit.CheckpointRejected as bad:
            reason = translate(graph.settings.default_locale, bad.reason)
            print(f"audit checkpoints REJECTED: {path}, line {bad.line_no}: {reason}")
            return 1
        except (OSError, ValueError, KeyError) as err:
            print(f"fieldops: cannot read the checkpoints in {path}: {err}", file=sys.stderr)
            return 1
    else:
        print(f"no checkpoint file at {path}: rows removed from the end cannot be found",
              file=sys.stderr)
    report = await audit.verify_chain(
        marks, progress=lambda done, total: progress_bar(done, total, "audit rows"))
    broken = report.broken
    if broken is None:
        print(f"audit chain intact: {report.checked} rows verified ({report.legacy} from "
              f"before the audit key), {len(marks)} checkpoint(s) compared")
        return 0
    reason = translate(graph.settings.default_locale, broken.reason, **broken.params)
    where = "after the last row" if broken.row_id is None else f"at row {broken.row_id}"
    print(f"audit chain BROKEN {where}: {reason} ({report.checked} rows verified)")
    return 1


async def cmd_audit_checkpoint(graph: Graph, _: argparse.Namespace) -> int:
    """Write a checkpoint of the audit chain now, e.g. before a backup (S3)."""
    mark = await write_audit_checkpoint(graph.settings.audit_checkpoint_file)
    print(f"audit checkpoint: {mark.rows} rows, head row {mark.head_id} "
          f"-> {graph.settings.audit_checkpoint_file}")
    return 0


async def cmd_prune(graph: Graph, args: argparse.Namespace) -> int:
    """Prune the bookkeeping past the retention now, with its progress (issue 14)."""
    days = args.days or graph.settings.retention_days

    def shown(kind: str, removed: int) -> None:
        sys.stderr.write(f"\r{kind:<20} {removed} row(s) removed")
        sys.stderr.flush()

    removed = await prune_bookkeeping(housekeeping.Retention(days, args.batch), shown)
    sys.stderr.write("\n" if any(removed.values()) else "")
    for kind, count in removed.items():
        print(f"{kind:<20} {count} row(s) older than {days} days pruned")
    return 0


IMPORT_FORMATS = {
    "training": "employee_no,course,completed_on,hours,trainer",
    "exams": "employee_no,exam,taken_on,score,pass_mark",
    "devices": "asset_tag,serial,imei,model,purchase_date,org_code",
    "staff": "employee_no,name,org_code,phone,roles",
}


def _importer(graph: Graph, ledger: str) -> Callable[..., Awaitable[ImportReport]]:
    """The domain import of one ledger; dates are checked against today in business time."""
    zone = graph.calendar.zone
    today = graph.clock().astimezone(zone).date()
    return {
        "training": partial(qualification_basis.import_training_csv, today=today),
        "exams": partial(qualification_basis.import_exams_csv, today=today),
        "devices": partial(device_imports.import_devices_csv, zone=zone),
        "staff": staff_imports.import_staff_csv,
    }[ledger]


async def cmd_import(graph: Graph, args: argparse.Namespace) -> int:
    """Import a ledger CSV as the system with a progress bar and a row-by-row error report."""
    try:
        text = await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        print(f"fieldops: cannot read {args.file}: {err}", file=sys.stderr)
        return 1
    report = await _importer(graph, args.ledger)(
        system_actor("cli"), text, all_or_nothing=args.all_or_nothing, progress=progress_bar)
    for row in report.errors:
        message = translate(graph.settings.default_locale, row.error, **row.params)
        print(f"line {row.line}: {message}")
    if not report.errors:
        print(f"{report.imported} of {report.read} row(s) imported")
    elif report.all_or_nothing:
        print(f"nothing imported (--all-or-nothing): {len(report.errors)} of {report.read} "
              "row(s) failed")
    else:
        print(f"{report.imported} of {report.read} row(s) imported; {len(report.errors)} "
              "failed")
    return 1 if report.errors else 0


async def cmd_run(graph: Graph, args: argparse.Namespace) -> int:
    """Run web, bot, scheduler and dispatcher (or one part) until stopped."""
    from fieldops.runtime import StartupError, serve

    try:
        await serve(graph, args.only)
    except StartupError as err:
        print(str(err), file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="fieldops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    make = sub.add_parser("makemigrations", help="write a migration for model changes")
    make.add_argument("--name", default=None)
    make.set_defaults(func=cmd_makemigrations)
    init = sub.add_parser("init", help="migrate and create the first system admin")
    for flag in ("username", "name", "employee-no", "password"):
        init.add_argument(f"--{flag}", default="")
    init.add_argument("--org-code", default="ROOT")
    init.add_argument("--org-name", default="省分行")
    init.set_defaults(func=cmd_init)
    reset = sub.add_parser("reset-password", help="issue a new one-time password for a web "
                           "log-in (the only way for a system admin's)")
    reset.add_argument("username")
    reset.set_defaults(func=cmd_reset_password)
    run = sub.add_parser("run", help="run the admin site, bot, scheduler and dispatcher")
    run.add_argument("--only", choices=["web", "bot", "scheduler"], default=None)
    run.set_defaults(func=cmd_run)
    sub.add_parser("demo", help="seed demo data").set_defaults(func=cmd_demo)
    prune = sub.add_parser("prune", help="prune sent notifications and other bookkeeping "
                           "past the retention now (the scheduler does it every 6 hours)")
    prune.add_argument("--days", type=_positive, default=0,
                       help="retention in days (default: FIELDOPS_RETENTION_DAYS)")
    prune.add_argument("--batch", type=_positive, default=5000,
                       help="rows per delete statement")
    prune.set_defaults(func=cmd_prune)
    _add_import_parser(sub)
    audit_cmd = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check the keyed hash chain")
    verify.add_argument("--checkpoint", default="", metavar="FILE",
                        help="checkpoint file to compare with (default: "
                             "FIELDOPS_AUDIT_CHECKPOINT_FILE)")
    verify.add_argument("--allow-unsigned", action="store_true",
                        help="accept unsigned checkpoint lines written before lines were "
                             "signed (only before the first signed line)")
    verify.set_defaults(func=cmd_audit_verify)
    audit_sub.add_parser("checkpoint", help="append a checkpoint of the chain now"
                         ).set_defaults(func=cmd_audit_checkpoint)
    return parser


def _positive(value: str) -> int:
    """A whole number of at least 1, for argparse."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a whole number of at least 1")
    return number


def _add_import_parser(sub: argparse._SubParsersAction) -> None:
    """`fieldops import training|exams|devices|staff FILE [--all-or-nothing]`."""
    importer = sub.add_parser("import", help="import ledger records from a CSV file")
    ledgers = importer.add_subparsers(dest="ledger", required=True)
    for ledger, columns in IMPORT_FORMATS.items():
        one = ledgers.add_parser(ledger, help=f"CSV with the header row {columns}")
        one.add_argument("file", help="CSV file (UTF-8) with a header row")
        one.add_argument("--all-or-nothing", action="store_true",
                         help="import nothing when any row fails (default: import the good "
                              "rows and report the bad ones)")
        one.set_defaults(func=cmd_import)


async def _with_database(
    graph: Graph, action: Callable[[Graph, argparse.Namespace], Awaitable[int]],
    args: argparse.Namespace,
) -> int:
    async with graph.database():
        return await action(graph, args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fieldops` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = load_settings()
    except SettingsError as err:
        print(f"fieldops: bad setting {err}", file=sys.stderr)
        return 2
    return asyncio.run(_with_database(bootstrap(settings), args.func, args))


if __name__ == "__main__":
    sys.exit(main())
