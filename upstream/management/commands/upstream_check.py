"""``manage.py upstream_check [ACCOUNT …]``: verify upstream accounts with free read calls."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from upstream.models import UpstreamAccount
from upstream.services import check_account


class Command(BaseCommand):
    help = (
        "Check upstream accounts (by name or id; all active accounts when none is given) with "
        "free read calls (ListAssets, and GetVisualValidateResult for a session that can't "
        "exist, which tells whether the credential may verify people), and explain any "
        "failure. Exits non-zero if any check fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("accounts", nargs="*", metavar="ACCOUNT", help="account name or id")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = [self._find(ref) for ref in options["accounts"]] or list(
            UpstreamAccount.objects.filter(is_active=True)
        )
        if not accounts:
            raise CommandError("There are no active upstream accounts to check.")
        failed = 0
        for account in accounts:
            outcome = check_account(account)
            if outcome.ok and outcome.confirmed:
                self.stdout.write(self.style.SUCCESS(f"OK    {outcome.summary}"))
                continue
            if outcome.ok:
                # Working credentials whose right to verify people could not be shown.
                self.stdout.write(self.style.WARNING(f"UNSURE {outcome.summary}"))
                self.stdout.write(f"      What to do:    {outcome.fix}")
                continue
            failed += 1
            self.stdout.write(self.style.ERROR(f"FAIL  {outcome.summary}"))
            self.stdout.write(f"      What happened: {outcome.explanation}")
            self.stdout.write(f"      What to do:    {outcome.fix}")
        if failed:
            raise CommandError(f"{failed} of {len(accounts)} upstream account(s) failed the check.")

    def _find(self, ref: str) -> UpstreamAccount:
        account = UpstreamAccount.objects.filter(name=ref).first()
        if account is None and ref.isdigit():
            account = UpstreamAccount.objects.filter(pk=int(ref)).first()
        if account is None:
            raise CommandError(f"No upstream account is named {ref!r} or has that id.")
        return account
