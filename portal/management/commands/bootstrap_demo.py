"""Prepare a development machine: a demo staff account, upstream accounts on the simulator, and a
demo project with its consent text in each shipped language, so that a verification can be
started without opening the admin.

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
from verification.models import ConsentText, Language, Project

DEMO_USERNAME = "demo"
DEMO_PROJECT = "Demo: spring campaign"
DEMO_USE = (
    "Short video ads for the spring campaign, made with AI video from the photos, videos and "
    "voice recordings you send, shown online for twelve months. (A demonstration project.)"
)
DEMO_TEXT_VERSION = "demo-1"
# The demo consent text in each shipped language: (title, body).
DEMO_TEXTS = {
    Language.EN: (
        "Consent to the use of my likeness (demo)",
        "I agree that the studio may use my face, my video image and my voice, from the photos, "
        "videos and recordings I send, to make the videos of the project described above.\n\n"
        "I understand that the studio sends these files to its video partner, which checks that "
        "they show me and keeps them in the studio's private library for as long as this "
        "consent holds.\n\n"
        "I can withdraw this consent at any time from my page; the studio then deletes the files "
        "at its partner and in its own storage. Videos published before I withdraw are not "
        "covered by the withdrawal.",
    ),
    Language.ZH_HANS: (
        "肖像使用同意书（演示）",
        "本人同意工作室使用我发送的照片、视频和录音中的面部、视频形象和声音，制作上述项目的视频。\n\n"
        "本人知悉工作室会将这些文件发送给其视频合作方，由合作方核实文件中是本人，并在本同意有效期间"
        "将文件保存在工作室的私有素材库中。\n\n"
        "本人可随时在自己的页面上撤回本同意；届时工作室将删除合作方处及其自身存储中的文件。"
        "撤回前已发布的视频不在撤回范围内。",
    ),
    Language.ZH_HANT: (
        "肖像使用同意書（示範）",
        "本人同意工作室使用我傳送的照片、影片和錄音中的面部、影像和聲音，製作上述專案的影片。\n\n"
        "本人知悉工作室會將這些檔案傳送給其影片合作方，由合作方核實檔案中是本人，並在本同意有效期間"
        "將檔案保存在工作室的私有素材庫中。\n\n"
        "本人可隨時在自己的頁面上撤回本同意；屆時工作室將刪除合作方處及其自身儲存中的檔案。"
        "撤回前已發佈的影片不在撤回範圍內。",
    ),
}


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
        self._demo_project_and_texts()
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
                f"  Sent email and SMS (with their links): {settings.PUBLIC_BASE_URL}/dev/outbox/\n"
            )
        )

    def _demo_project_and_texts(self) -> None:
        """Created once; left as they are afterwards (staff may have edited or closed them)."""
        Project.objects.get_or_create(name=DEMO_PROJECT, defaults={"intended_use": DEMO_USE})
        for language, (title, body) in DEMO_TEXTS.items():
            ConsentText.objects.get_or_create(
                version=DEMO_TEXT_VERSION,
                language=language,
                defaults={"title": title, "body": body},
            )
