from argparse import ArgumentParser
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from verification import retention


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "-"


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    """Left-aligned text columns, two spaces apart."""
    cells = [header, *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    return [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


class Command(BaseCommand):
    help = (
        "Carry out the retention schedule now (beat also runs it daily): delete local copies "
        "kept past RETENTION_LOCAL_MEDIA_DAYS, and destroy the media of persons past their "
        "deadline. Prints what was done; exits 1 when something failed (the next run retries)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Only list what would be done; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run: bool = options["dry_run"]
        now = timezone.now()
        report = retention.apply(now=now, dry_run=dry_run)
        lines = [f"Retention at {now:%Y-%m-%d %H:%M} UTC"]
        if dry_run:
            lines[0] += " (dry run: nothing was changed)"

        days = settings.RETENTION_LOCAL_MEDIA_DAYS
        lines += ["", f"Local copies settled more than {days} days ago: {len(report.local_copies)}"]
        if report.local_copies:
            lines += _table(
                ["asset", "person", "settled (UTC)", "result"],
                [
                    [c.asset_id, c.person_id, _when(c.completed_at), self._result(c.error, dry_run)]
                    for c in report.local_copies
                ],
            )

        lines += ["", f"Persons past their retention deadline: {len(report.persons)}"]
        if report.persons:
            lines += _table(
                ["person", "deadline (UTC)", "reason", "withdraw", "destroy", "result"],
                [
                    [
                        p.person_id,
                        _when(p.deadline),
                        p.reason,
                        p.to_withdraw if dry_run else p.withdrawn,
                        p.to_destroy if dry_run else p.destroyed,
                        self._result(p.error, dry_run),
                    ]
                    for p in report.persons
                ],
            )

        copies_failed = sum(1 for c in report.local_copies if c.error)
        persons_failed = sum(1 for p in report.persons if p.error)
        summary = _table(
            ["", "would do" if dry_run else "done", "failed"],
            [
                ["Local copies destroyed", len(report.local_copies) - copies_failed, copies_failed],
                ["Persons processed", len(report.persons) - persons_failed, persons_failed],
            ],
        )
        lines += ["", *summary]
        self.stdout.write("\n".join(lines))
        if report.failures:
            raise CommandError(
                f"{report.failures} item(s) could not be finished; the next run retries them."
            )

    @staticmethod
    def _result(error: str, dry_run: bool) -> str:
        if dry_run:
            return "would destroy"
        return f"waiting: {error}" if error else "destroyed"
