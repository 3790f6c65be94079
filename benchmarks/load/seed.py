"""Seed the load test's database: run by `python -m benchmarks.load`, in the web server's environment.

Prints one JSON object: the staff session cookie, ids of pages to visit, link tokens (some to open,
some to consent through, one each) and the upload files it generated.

Run: python -m benchmarks.load.seed --simulator-url URL --simulator-token TOKEN --links N
     --consents N --media-dir DIR
"""

import argparse
import json
import sys
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--simulator-url", required=True)
    parser.add_argument("--simulator-token", required=True)
    parser.add_argument("--links", type=int, default=200)
    parser.add_argument("--consents", type=int, default=1000)
    parser.add_argument("--media-dir", type=Path, required=True)
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client, RequestFactory

    from assets.models import AssetGroup
    from upstream.factory import client_for
    from upstream.models import Adapter, UpstreamAccount
    from verification import services
    from verification.models import AuthorizingPerson, ConsentText, Project, VerificationSession

    staff = get_user_model().objects.create_user(username="loadstaff", is_staff=True)
    staff.groups.set(Group.objects.filter(name="coordinator"))
    login = Client()
    login.force_login(staff)
    account = UpstreamAccount.objects.create(
        name="Load simulator",
        adapter=Adapter.ANYFAST,
        base_url=args.simulator_url,
        api_token=args.simulator_token,
    )
    project = Project.objects.create(name="Load test", intended_use="Measuring the portal.")
    text = ConsentText.objects.create(
        title="Consent to the use of my likeness", version="1", body="I agree. " * 40
    )

    def invited(number: int) -> tuple[VerificationSession, str]:
        person = AuthorizingPerson.objects.create(
            full_name=f"Load Person {number}", email=f"p{number}@example.com", created_by=staff
        )
        session = services.start_session(
            person=person,
            account_id=account.pk,
            project=project,
            consent_text=text,
            media_kinds=["image", "video", "audio"],
            channel="in_person",
            user=staff,
        )
        link = services.show_link(session=session, user=staff)
        return session, link.rstrip("/").rsplit("/", 1)[-1]

    link_tokens = [invited(n)[1] for n in range(args.links)]
    consents = []
    for number in range(args.links, args.links + args.consents):
        consents.append({"token": invited(number)[1], "name": f"Load Person {number}"})

    # One person verified for real at the simulator, so uploads have a group to go into.
    session, _ = invited(10**6)
    request = RequestFactory().post("/", REMOTE_ADDR="127.0.0.1", HTTP_USER_AGENT="load")
    services.give_consent(session=session, signature_name=session.person.full_name, request=request)
    upstream = client_for(account)
    started = upstream.start_verification(callback_url="http://127.0.0.1:1/callback")
    import requests

    requests.post(
        f"{args.simulator_url}/_control/sessions/{started.byted_token}/complete",
        json={"result_code": 10000},
        timeout=10,
    ).raise_for_status()
    group_id = upstream.get_verification_result(byted_token=started.byted_token).group_id
    session.move(
        VerificationSession.Status.CONSENTED,
        VerificationSession.Status.VERIFIED,
        upstream_group_id=group_id,
    )
    group = AssetGroup.objects.create(
        upstream_id=group_id, person=session.person, account=account, session=session
    )

    json.dump(
        {
            "sessionid": login.cookies["sessionid"].value,
            "session_ids": list(VerificationSession.objects.values_list("pk", flat=True)[:50]),
            "person_ids": list(AuthorizingPerson.objects.values_list("pk", flat=True)[:50]),
            "group_id": group.pk,
            "link_tokens": link_tokens,
            "consents": consents,
            "media": make_media(args.media_dir),
        },
        sys.stdout,
    )


def make_media(folder: Path) -> dict[str, list[str]]:
    """Upload files: one video just under the 50 MB limit (noise, so it is really that big), and a
    mix of ordinary photos, clips and voice recordings."""
    import av
    import numpy as np

    from tests.media.conftest import Media

    folder.mkdir(parents=True, exist_ok=True)
    big = folder / "big.mp4"
    if not big.exists():
        rng = np.random.default_rng(1)
        with av.open(str(big), "w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=30)
            stream.width = stream.height = 640
            stream.pix_fmt = "yuv420p"
            stream.bit_rate = 38_000_000
            stream.options = {"preset": "ultrafast", "maxrate": "40M", "bufsize": "8M"}
            base = rng.integers(0, 256, (640, 640, 3), dtype=np.uint8)
            for index in range(300):
                noise = rng.integers(0, 64, (640, 640, 3), dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(np.roll(base, index * 7, axis=1) ^ noise)
                frame.pts = index
                out.mux(stream.encode(frame))
            out.mux(stream.encode())
    media = Media(folder)
    mixed = [
        media.image((1600, 2000)),
        media.image((1200, 1600), "PNG"),
        media.image((1080, 1350), "WEBP"),
        media.video((720, 1280), seconds=6, audio=True),
        media.wav(8.0, rate=44100),
        media.mp3(10.0),
    ]
    return {"big": [str(big)], "mixed": [str(path) for path in mixed]}


if __name__ == "__main__":
    main()
