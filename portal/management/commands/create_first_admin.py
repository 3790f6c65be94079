"""Create the first admin from the environment, without prompts (a deploy step, a container job).

Reads FIRST_ADMIN_USERNAME, FIRST_ADMIN_EMAIL and FIRST_ADMIN_PASSWORD (or
FIRST_ADMIN_PASSWORD_FILE). Does nothing once any superuser exists, so it is safe on every deploy;
the password must pass the portal's password rules. The new admin enrols an authenticator app
at first sign-in.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal import env


class Command(BaseCommand):
    help = (
        "Create the first superuser from FIRST_ADMIN_USERNAME, FIRST_ADMIN_EMAIL and "
        "FIRST_ADMIN_PASSWORD(_FILE); does nothing when a superuser already exists."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin already exists; nothing to do.")
            return
        username = env.text("FIRST_ADMIN_USERNAME").strip()
        email = env.text("FIRST_ADMIN_EMAIL").strip()
        password = env.optional_secret("FIRST_ADMIN_PASSWORD")
        if not username or not password:
            raise CommandError(
                "Set FIRST_ADMIN_USERNAME and FIRST_ADMIN_PASSWORD (or FIRST_ADMIN_PASSWORD_FILE)."
            )
        if users.objects.filter(username=username).exists():
            raise CommandError(
                f"A user named {username!r} exists but is not an admin; pick another name or "
                "make that user a superuser in the admin."
            )
        candidate = users(username=username, email=email)
        try:
            validate_password(password, user=candidate)
        except ValidationError as error:
            raise CommandError("The password is refused: " + " ".join(error.messages)) from error
        users.objects.create_superuser(username=username, email=email, password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the admin {username!r}. At first sign-in they set up an authenticator app."
            )
        )
