"""Run inside `manage.py shell` by tests/ops/test_backup.py: fill a database with a bit of
everything, and describe a database so two can be compared."""

import hashlib
import json
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import RequestFactory

from assets.models import Asset, AssetGroup
from ledger import triggers
from ledger.checkpoints import write_checkpoint
from ledger.models import LedgerHead
from upstream.models import Adapter, UpstreamAccount
from verification import services
from verification.models import AuthorizingPerson, ConsentText, Project, VerificationSession


def populate() -> None:
    staff = get_user_model().objects.create_user(username="staffer", is_staff=True)
    account = UpstreamAccount.objects.create(
        name="Anyfast",
        adapter=Adapter.ANYFAST,
        base_url="https://upstream.invalid",
        api_token="sk-restored-token-0001",
    )
    project = Project.objects.create(name="Winter campaign", intended_use="Ads, 12 months.")
    text = ConsentText.objects.create(title="Consent", version="1", body="I agree.")
    person = AuthorizingPerson.objects.create(full_name="Zoë Backup", email="zoe@example.com")
    session = services.start_session(
        person=person,
        account_id=account.pk,
        project=project,
        consent_text=text,
        media_kinds=["image"],
        channel="in_person",
        user=staff,
    )
    request = RequestFactory().post("/", REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT="pytest")
    consent = services.give_consent(session=session, signature_name="Zoë Backup", request=request)
    VerificationSession.objects.filter(pk=session.pk).update(status="verified")
    group = AssetGroup.objects.create(
        upstream_id="group-20260101-backup", person=person, account=account, session=session
    )
    folder = Path(settings.MEDIA_ROOT) / "assets" / "2026" / "01"
    folder.mkdir(parents=True, exist_ok=True)
    data = b"\xff\xd8 not really a jpeg, but bytes to keep"
    (folder / "portrait.jpg").write_bytes(data)
    Asset.objects.create(
        group=group,
        kind="image",
        status="active",
        original_name="portrait.jpg",
        upstream_name="upload-1",
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        file="assets/2026/01/portrait.jpg",
        upstream_id="asset-1",
        consent=consent,
    )
    write_checkpoint()


def describe() -> None:
    counts = {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in ("auth", "ledger", "upstream", "verification", "assets")
    }
    media = Path(settings.MEDIA_ROOT)
    files = {
        str(path.relative_to(media)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(media.rglob("*"))
        if path.is_file()
    }
    head = LedgerHead.objects.get()
    print(
        json.dumps(
            {
                "counts": counts,
                "persons": sorted(AuthorizingPerson.objects.values_list("full_name", flat=True)),
                "token": UpstreamAccount.objects.get().api_token,
                "ledger_head": [head.seq, head.hash],
                "files": files,
                "missing_triggers": triggers.missing(connection),
            },
            sort_keys=True,
        )
    )
