"""One HTTP exchange with bounded time and size. No retries here (see ``client.RetryPolicy``).

Network failures become ``UpstreamUnavailable`` with ``maybe_processed`` telling whether the
request may have reached the upstream's application: a refused or timed-out *connect* means it
certainly didn't; a read timeout or a connection dropped mid-answer means it may have.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import DecodeError, NewConnectionError, ProtocolError, ReadTimeoutError

from upstream import errors
from upstream.bodies import StreamBody

MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # answers are small JSON; anything bigger is not ours


@dataclass(frozen=True)
class Prepared:
    """A request ready to send (adapters build it: URL, auth, signature)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | StreamBody | None


@dataclass(frozen=True)
class Answer:
    """A success as the adapter read it: the bare result object and the request id."""

    result: dict[str, Any]
    request_id: str


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: CaseInsensitiveDict[str]
    body: bytes


class Transport:
    """Sends one request. ``total_timeout`` bounds reading the answer even when the server
    trickles bytes slowly enough to never trip the per-read timeout."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
        session: requests.Session | None = None,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.session = session or requests.Session()

    def send(
        self,
        *,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | StreamBody | None,
        action: str,
    ) -> HttpResponse:
        data = body.open() if isinstance(body, StreamBody) else body
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                headers=dict(headers),
                data=data,
                timeout=(self.connect_timeout, self.read_timeout),
                allow_redirects=False,
                stream=True,
                auth=_headers_as_given,
            )
        except requests.ConnectTimeout as exc:
            raise _unavailable(
                "Local.ConnectTimeout", f"connecting took over {self.connect_timeout:g} s", action
            ) from exc
        except requests.ReadTimeout as exc:
            raise _unavailable(
                "Local.ReadTimeout", f"no answer within {self.read_timeout:g} s", action
            ) from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
            raise errors.AccountMisconfigured(
                "the base URL is not a valid address", action=action
            ) from exc
        except requests.exceptions.SSLError as exc:
            raise _unavailable("Local.TLSError", "the secure connection failed", action) from exc
        except requests.ConnectionError as exc:
            if _never_connected(exc):
                raise _unavailable("Local.ConnectError", "could not connect", action) from exc
            raise _unavailable(
                "Local.ConnectionDropped", "the connection dropped before the answer", action
            ) from exc
        with response:
            return HttpResponse(
                status=response.status_code,
                headers=response.headers,
                body=self._read_body(response, started, action),
            )

    def _read_body(self, response: requests.Response, started: float, action: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        status = response.status_code
        try:
            # read1 returns what has arrived; iter_content would block until a whole chunk came,
            # so a trickling answer could outlive total_timeout.
            while chunk := response.raw.read1(64 * 1024, decode_content=True):
                size += len(chunk)
                chunks.append(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise errors.UnexpectedResponse(
                        f"the answer is larger than {MAX_RESPONSE_BYTES} bytes",
                        action=action,
                        http_status=status,
                    )
                if time.monotonic() - started > self.total_timeout:
                    raise _unavailable(
                        "Local.SlowAnswer",
                        f"the answer took over {self.total_timeout:g} s to arrive",
                        action,
                        status,
                    )
        except (ReadTimeoutError, requests.ReadTimeout) as exc:
            raise _unavailable(
                "Local.ReadTimeout",
                f"the answer stalled for {self.read_timeout:g} s",
                action,
                status,
            ) from exc
        except (ProtocolError, DecodeError, requests.RequestException, OSError) as exc:
            raise _unavailable(
                "Local.ConnectionDropped",
                "the connection dropped during the answer",
                action,
                status,
            ) from exc
        return b"".join(chunks)


# Plain words for each way the network can fail: (explanation, fix, whether the upstream may have
# received and acted on the request).
_NETWORK_FAILURES: dict[str, tuple[str, str, bool]] = {
    "Local.ConnectError": (
        "The upstream host could not be reached: its name doesn't resolve, nothing answers at "
        "that address, or a firewall blocks the way.",
        "Staff: check the account's base URL and this server's outbound network. The portal "
        "keeps retrying meanwhile.",
        False,
    ),
    "Local.ConnectTimeout": (
        "The upstream host didn't accept a connection in time.",
        "Staff: if this persists, check the base URL and this server's outbound network.",
        False,
    ),
    "Local.TLSError": (
        "The secure (TLS) connection to the upstream host failed.",
        "Staff: check the base URL's host name, this server's clock and its CA certificates.",
        False,
    ),
    "Local.ReadTimeout": (
        "The upstream took too long to answer.",
        "Nothing to change: the portal retries. If it persists, the upstream is slow or down.",
        True,
    ),
    "Local.SlowAnswer": (
        "The upstream's answer arrived too slowly.",
        "Nothing to change: the portal retries. If it persists, the upstream is slow or down.",
        True,
    ),
    "Local.ConnectionDropped": (
        "The connection to the upstream broke before its answer arrived.",
        "Nothing to change: the portal retries.",
        True,
    ),
}


def _unavailable(
    code: str, message: str, action: str, status: int | None = None
) -> errors.UpstreamUnavailable:
    explanation, fix, maybe_processed = _NETWORK_FAILURES[code]
    return errors.UpstreamUnavailable(
        message,
        code=code,
        action=action,
        http_status=status,
        maybe_processed=maybe_processed,
        explanation=explanation,
        fix=fix,
    )


def _headers_as_given(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An explicit no-op auth: without one, requests would let a ~/.netrc entry silently replace
    our Authorization header (proxy settings from the environment still apply)."""
    return request


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the failure happened while connecting (refused, DNS), so the request never
    left this machine."""
    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", inner)  # urllib3's MaxRetryError wraps the real cause
    return isinstance(reason, NewConnectionError | ConnectionRefusedError)
