"""Compare every asset group with the upstream; report the differences, or fix the safe ones."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from assets.reconcile import groups_to_check, reconcile_group, reconcile_storage


class Command(BaseCommand):
    help = (
        "Compare each asset group's assets with what the upstream holds and report the drift; "
        "with --fix, repair what is safe to repair (see assets/reconcile.py)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--fix", action="store_true", help="Repair the safe differences.")
        parser.add_argument("--account", default="", help="Only this upstream account (by name).")
        parser.add_argument("--group", default="", help="Only this group (upstream GroupId).")
        parser.add_argument(
            "--fail-on-drift",
            action="store_true",
            help="Exit with status 1 when differences remain (for scheduled runs that alert).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        groups = groups_to_check(account=options["account"], group=options["group"])
        unresolved = differences = 0
        for group in groups:
            report = reconcile_group(group, fix=options["fix"])
            differences += len(report.differences)
            unresolved += report.unresolved
            state = "ERROR" if report.error else "drift" if report.differences else "ok"
            self.stdout.write(
                f"{group.account.name} / {group.upstream_id}: {state} "
                f"({report.local_count} here, {report.upstream_count} upstream)"
            )
            if report.error:
                self.stdout.write(f"  {report.error}")
            elif report.presence:
                self.stdout.write(f"  group: {report.presence}")
            for difference in report.differences:
                self.stdout.write(f"  {difference}")
        media = reconcile_storage()
        differences += len(media.unowned) + len(media.missing)
        unresolved += media.unresolved
        state = "ERROR" if media.error else "drift" if media.unresolved else "ok"
        self.stdout.write(f"media storage: {state}")
        if media.error:
            self.stdout.write(f"  {media.error}")
        for name in media.unowned:
            self.stdout.write(f"  stored file without an asset: {name} — left as is")
        for pk, name in media.missing:
            self.stdout.write(f"  asset {pk} without its stored file: {name} — left as is")
        summary = (
            f"{len(groups)} group(s) compared, {differences} difference(s), "
            f"{unresolved} left unresolved."
        )
        if unresolved and options["fail_on_drift"]:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary) if not unresolved else summary)
