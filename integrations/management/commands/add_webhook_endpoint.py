from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.destinations import DestinationRefused
from integrations.outbox import EVENT_TYPES
from integrations.webhooks import create_endpoint
from ledger.services import Actor


class Command(BaseCommand):
    help = "Register a webhook endpoint. Its signing secret is printed once, as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url")
        parser.add_argument("--events", nargs="+", required=True, choices=EVENT_TYPES)
        parser.add_argument("--description", default="")

    def handle(self, *args: object, **options: object) -> None:
        try:
            endpoint, secret = create_endpoint(
                url=str(options["url"]),
                events=list(options["events"]),  # type: ignore[call-overload]
                description=str(options["description"]),
                actor=Actor.system("manage.py"),
            )
        except (DestinationRefused, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Endpoint whe_{endpoint.pk} for {', '.join(endpoint.events)}.")
        self.stdout.write("The signing secret, shown this once:")
        self.stdout.write(secret)
