from typing import Any

from django.core.management.base import BaseCommand

from ledger.signing import fingerprint, public_base64, public_pem, signing_key


class Command(BaseCommand):
    help = (
        "Print the public half of AUDIT_SIGNING_KEY (base64, PEM and fingerprint), to keep "
        "outside this system and pass to `verify_audit --public-key`."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        public = signing_key().public_key()
        self.stdout.write(f"fingerprint: {fingerprint(public)}")
        self.stdout.write(f"base64: {public_base64(public)}")
        self.stdout.write(public_pem(public).rstrip())
