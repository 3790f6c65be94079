"""The people in the process-level chaos test: phones and a staff member talking HTTP to the real
web server, every exchange recorded with the phase of the test it happened in."""

import re
import secrets
import string
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.journey import PHONE

LINK = re.compile(r"/p/[A-Za-z0-9_-]{20,}/")
# The start page's answer when the person has an open verification for the project already.
OPEN_SESSION = re.compile(r'already has an open verification.*?href="/sessions/(\d+)/"', re.S)
# A CSRF secret of our own, sent as the cookie and echoed in the form or header, as a browser does.
CSRF = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


class Timeline:
    """What happened when, printed when the test fails."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.entries: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    def note(self, text: str) -> None:
        with self.lock:
            self.entries.append((time.monotonic() - self.started, text))

    def render(self) -> str:
        return "\n".join(f"{at:7.1f}s  {text}" for at, text in self.entries)


@dataclass(frozen=True)
class Exchange:
    phase: str
    what: str
    status: int  # 0: no answer at all


class Traffic:
    """Sends requests to the web server and keeps every status, by phase."""

    def __init__(self, base_url: str, timeline: Timeline) -> None:
        self.base_url = base_url
        self.timeline = timeline
        self.phase = "setup"
        self.exchanges: list[Exchange] = []
        self.lock = threading.Lock()

    def send(
        self, http: requests.Session, method: str, path: str, what: str, **kwargs: Any
    ) -> requests.Response | None:
        phase = self.phase
        try:
            response = http.request(
                method, self.base_url + path, timeout=60, allow_redirects=False, **kwargs
            )
        except requests.RequestException as error:
            self._keep(Exchange(phase, what, 0))
            self.timeline.note(f"{what}: no answer ({type(error).__name__})")
            return None
        self._keep(Exchange(phase, what, response.status_code))
        if response.status_code >= 500:
            self.timeline.note(f"{what}: {response.status_code}")
        return response

    def _keep(self, exchange: Exchange) -> None:
        with self.lock:
            self.exchanges.append(exchange)

    def by_phase(self) -> dict[str, Counter[tuple[str, int]]]:
        table: dict[str, Counter[tuple[str, int]]] = {}
        with self.lock:
            for exchange in self.exchanges:
                table.setdefault(exchange.phase, Counter())[(exchange.what, exchange.status)] += 1
        return table

    def render(self) -> str:
        lines = []
        for phase, counts in self.by_phase().items():
            lines.append(f"{phase}:")
            lines += [
                f"    {what} → {status or 'no answer'}: {count}"
                for (what, status), count in sorted(counts.items())
            ]
        return "\n".join(lines)


def _browser(traffic: Traffic, user_agent: str) -> requests.Session:
    http = requests.Session()
    http.headers.update(
        {"User-Agent": user_agent, "Origin": traffic.base_url, "Referer": f"{traffic.base_url}/"}
    )
    http.cookies.set("csrftoken", CSRF)
    return http


class Staff:
    """A signed-in staff member at a desktop browser."""

    def __init__(self, traffic: Traffic, sessionid: str, seeded: dict[str, object]) -> None:
        self.traffic = traffic
        self.seeded = seeded
        self.http = _browser(traffic, "Mozilla/5.0 (X11; Linux x86_64) chaos-staff")
        self.http.cookies.set("sessionid", sessionid)

    def start_session(self, person: int, channel: str) -> requests.Response | None:
        """Start a verification; an in-person one ends on the page showing the link. When the
        person has an open one already (an answer lost to a fault), show that one's link."""
        response = self.traffic.send(
            self.http,
            "POST",
            f"/persons/{person}/verify/",
            f"staff start ({channel})",
            data={
                "account": self.seeded["account"],
                "project": self.seeded["project"],
                "consent_text": self.seeded["consent_text"],
                "media_kinds": ["image", "video", "audio"],
                "channel": channel,
                "csrfmiddlewaretoken": CSRF,
            },
        )
        if response is not None and response.status_code == 200:
            open_one = OPEN_SESSION.search(response.text)
            if open_one is None:
                return response
            response = self.traffic.send(
                self.http,
                "POST",
                f"/sessions/{open_one.group(1)}/show-link/",
                "staff show link",
                data={"csrfmiddlewaretoken": CSRF},
            )
        return self._follow(response, "staff shown link")

    def _follow(self, response: requests.Response | None, what: str) -> requests.Response | None:
        """The page a post/redirect/get answer points at."""
        if response is None or response.status_code != 302:
            return response
        return self.traffic.send(self.http, "GET", response.headers["Location"], what)

    def upload(self, group: int, path: Path, name: str) -> requests.Response | None:
        with path.open("rb") as handle:
            return self.traffic.send(
                self.http,
                "POST",
                f"/groups/{group}/upload/",
                "staff upload",
                files={"files": (name, handle)},
                headers={"Accept": "application/json", "X-CSRFToken": CSRF},
            )

    def dashboard(self) -> requests.Response | None:
        return self.traffic.send(self.http, "GET", "/", "staff dashboard")


@dataclass
class Journey:
    """One person's way through the portal, as far as the test has driven it."""

    name: str
    person: int
    phone: requests.Session
    calls_back: bool  # half the phones come back from the upstream; the sweep finds the others
    link: str = ""
    acknowledged: bool = False  # the portal told the person their consent was taken
    h5: str = ""  # the upstream page the phone was sent to and has not finished yet
    callback: str = ""  # where the upstream sends the phone back, once finished there
    called_back: bool = False
    uploads: list[int] = field(default_factory=list)  # the status of each upload answer

    @classmethod
    def for_person(cls, traffic: Traffic, name: str, person: int, calls_back: bool) -> "Journey":
        return cls(name, person, _browser(traffic, PHONE), calls_back)


def consent_acknowledged(response: requests.Response) -> bool:
    """The phone went on to liveness, or was shown its consent as given (the verification step
    could not start just now)."""
    if response.status_code == 302:
        return True
    return response.status_code < 500 and 'id="your-consent"' in response.text
