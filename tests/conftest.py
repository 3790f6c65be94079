import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client


@pytest.fixture(scope="session", autouse=True)
def _test_server_settings():
    """Production settings, less what a test server can't have: TLS and collected static files.
    Session-wide, so they hold before a live server builds its middleware."""
    from django.conf import settings
    from django.test import override_settings

    overrides: dict[str, object] = {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "STORAGES": {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        "WHITENOISE_AUTOREFRESH": True,
        # Tests sign superusers in with force_login, past the sign-in flow; the second-factor
        # tests (tests/admin/test_two_factor.py) turn the requirement back on.
        "TOTP_REQUIRED_FOR_ADMINS": False,
    }
    if not settings.REDIS_URL:
        # In-process: test runs side by side must not share (and clear) one file cache.
        overrides["CACHES"] = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        }
    override = override_settings(**overrides)
    override.enable()  # signals the change, so the cache handler forgets the file cache
    yield
    override.disable()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate limits and throttles live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def make_staff(username: str, *roles: str):
    """A staff account holding `roles` (see portal/roles.py); none: staff with no role at all."""
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(
        username=username, password="correct horse battery staple", is_staff=True
    )
    user.groups.set(Group.objects.filter(name__in=roles))
    assert user.groups.count() == len(roles), f"missing role among {roles}"
    return user


@pytest.fixture
def staff_user(db):
    """An administrator: the role that may do everything the staff pages offer."""
    return make_staff("staffer", "administrator")


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture(scope="session", autouse=True)
def _in_memory_broker():
    """Tasks queued by code under test go to memory, never to the development queue or Redis.
    Tests run task bodies themselves, as a worker would."""
    from portal.celery import app

    saved = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.broker_transport_options = "memory://", {}
    yield
    app.conf.broker_url, app.conf.broker_transport_options = saved


@pytest.fixture(scope="session")
def simulator_process(tmp_path_factory):
    from tests.simulator_harness import start_simulator, stop_simulator

    simulator = start_simulator(tmp_path_factory.mktemp("simulator"))
    yield simulator
    stop_simulator(simulator)


@pytest.fixture
def simulator(simulator_process):
    """The simulator with a clean state, test credentials, and assets ready at once."""
    simulator_process.reset()
    return simulator_process


@pytest.fixture
def account(db, simulator):
    from upstream.models import Adapter, UpstreamAccount

    return UpstreamAccount.objects.create(
        name="Simulated Anyfast",
        adapter=Adapter.ANYFAST,
        base_url=simulator.url,
        api_token=simulator.token,
    )


@pytest.fixture
def project(db):
    from verification.models import Project

    return Project.objects.create(
        name="Winter campaign",
        intended_use="Short video ads for the winter campaign, shown online for 12 months.",
    )


@pytest.fixture
def consent_text(db):
    from verification.models import ConsentText

    return ConsentText.objects.create(
        title="Consent to the use of my likeness",
        version="1",
        body="I agree that the studio may use my face, video and voice for the project described.",
    )


@pytest.fixture
def person(db, staff_user):
    from verification.models import AuthorizingPerson

    return AuthorizingPerson.objects.create(
        full_name="Jane Doe", email="jane@example.com", phone="+14155550123", created_by=staff_user
    )


@pytest.fixture
def ledger_transactional(transactional_db):
    """A transactional test that records events: the ledger is erased (triggers dropped meanwhile)
    before Django's flush, which the append-only triggers would refuse."""
    from ledger.testing import erase_ledger

    yield
    erase_ledger()


@pytest.fixture
def phone() -> Client:
    from tests.journey import PHONE

    return Client(HTTP_USER_AGENT=PHONE, REMOTE_ADDR="203.0.113.7")


@pytest.fixture
def start_by_email(
    staff_client, person, account, project, consent_text, django_capture_on_commit_callbacks
):
    """Staff start a session by email; the worker sends it. Returns (session, link path)."""
    from tests.journey import link_in_last_message, run_pending_invitations
    from verification.models import VerificationSession

    def start(channel: str = "email"):
        with django_capture_on_commit_callbacks(execute=False) as queued:
            response = staff_client.post(
                f"/persons/{person.pk}/verify/",
                {
                    "account": account.pk,
                    "project": project.pk,
                    "consent_text": consent_text.pk,
                    "media_kinds": ["image", "video", "audio"],
                    "channel": channel,
                },
            )
        assert response.status_code == 302, response.content
        session = VerificationSession.objects.get(person=person)
        assert len(queued) == 1  # the invitation task, queued only after the commit
        run_pending_invitations()
        return session, link_in_last_message()

    return start


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """Generated media files (Pillow, PyAV), cached for the session."""
    from tests.media.conftest import Media

    return Media(tmp_path_factory.mktemp("shared-media"))


@pytest.fixture
def verified_group(person, account, project, consent_text, staff_user, simulator):
    from tests.journey import make_verified_group

    return make_verified_group(person, account, project, consent_text, staff_user, simulator)


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium through Playwright, one per test session: Playwright's sync API allows
    one running instance per process, so every browser test shares this one."""
    import shutil

    if not shutil.which(CHROMIUM):
        pytest.fail("Browser tests need Debian's chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 API server on a free port of 127.0.0.1, for the session."""
    from tests.s3_harness import MOTO_AVAILABLE, start_s3_server, stop_s3_server

    if not MOTO_AVAILABLE:
        pytest.skip("moto is not installed (the dev dependency group has it)")
    server = start_s3_server()
    yield server
    stop_s3_server(server)


@pytest.fixture(params=["filesystem", "s3"])
def media_storage(request, settings):
    """Runs the test with media under MEDIA_ROOT, then in a fresh bucket on the S3 server.
    Returns the bucket's name, or "" for the filesystem."""
    if request.param == "filesystem":
        return ""
    server = request.getfixturevalue("s3_server")
    bucket = server.new_bucket()
    settings.STORAGES = server.storages(settings.STORAGES, bucket)
    return bucket
