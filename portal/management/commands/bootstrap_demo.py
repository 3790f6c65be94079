"""Prepare a development machine: a demo staff account and upstream accounts on the simulator.

Safe to run on every start: it creates what is missing and prints the sign-in details.
"""

import json
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from portal import env
from upstream.models import Adapter, UpstreamAccount

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = (
        "Create the demo staff account and simulator-backed upstream accounts (development only)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "bootstrap_demo is for development; it refuses to run with DEBUG off."
            )
        password = env.secret("DEMO_PASSWORD", generate=lambda: secrets.token_urlsafe(12))
        user, created = get_user_model().objects.get_or_create(
            username=DEMO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created or not user.check_password(password):
            user.set_password(password)
            user.save()

        token = env.secret("SIMULATOR_TOKEN", generate=lambda: "sk-" + secrets.token_hex(24))
        key_id = env.secret(
            "SIMULATOR_ACCESS_KEY_ID", generate=lambda: "AKSIM" + secrets.token_hex(8).upper()
        )
        secret_key = env.secret(
            "SIMULATOR_SECRET_ACCESS_KEY", generate=lambda: secrets.token_urlsafe(30)
        )
        UpstreamAccount.objects.update_or_create(
            name="Simulator (Anyfast)",
            defaults={
                "adapter": Adapter.ANYFAST,
                "base_url": settings.SIMULATOR_URL,
                "api_token": token,
            },
        )
        UpstreamAccount.objects.update_or_create(
            name="Simulator (BytePlus)",
            defaults={
                "adapter": Adapter.BYTEPLUS,
                "base_url": settings.SIMULATOR_URL,
                "access_key_id": key_id,
                "secret_access_key": secret_key,
                "region": "ap-southeast-1",
            },
        )
        seed = {
            "tokens": [{"token": token, "group": "Byteplus-Direct"}],
            "keypairs": [{"access_key_id": key_id, "secret_access_key": secret_key}],
        }
        seed_path = env.VAR_DIR / "simulator-seed.json"
        seed_path.write_text(json.dumps(seed))
        seed_path.chmod(0o600)

        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Sitter is starting at {settings.PUBLIC_BASE_URL}/\n"
                f"  Sign in as {DEMO_USERNAME!r} with password {password!r}\n"
                f"  Admin: {settings.PUBLIC_BASE_URL}/{settings.ADMIN_PATH}\n"
                f"  Upstream simulator: {settings.SIMULATOR_URL}/_control/\n"
            )
        )
