from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations import keys
from integrations.models import Scope


class Command(BaseCommand):
    help = "Create an API key. The key is printed once, as the last line; only its hash is kept."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who or what uses the key, e.g. 'render farm'.")
        parser.add_argument(
            "--scope", nargs="+", required=True, choices=Scope.values, dest="scopes"
        )
        parser.add_argument("--rate-limit", type=int, default=None, help="Requests a minute.")

    def handle(self, *args: object, **options: object) -> None:
        try:
            key, secret = keys.create_key(
                name=str(options["name"]),
                scopes=list(options["scopes"]),  # type: ignore[call-overload]
                created_by=None,
                rate_limit_per_minute=options["rate_limit"],  # type: ignore[arg-type]
            )
        except keys.InvalidKeyRequest as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Created API key {key.public_id} ({', '.join(key.scopes)}).")
        self.stdout.write("Copy it now: it is not shown again.")
        self.stdout.write(secret)
