"""Where a ``CreateAsset`` file comes from: a URL to download, a ``data:`` URI, raw Base64 or a
multipart part.

Downloads run inside the request, bounded by ``download_timeout_seconds`` for the whole transfer
(not per socket read) and by a size cap, so a slow or endless URL can't pin a thread.
"""

import base64
import binascii
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass

from upstream.simulator.core import Upload, invalid

DOWNLOAD_CAP = 64 * 1024 * 1024
CHUNK = 256 * 1024


@dataclass(frozen=True)
class Source:
    data: bytes
    content_type: str
    via: str  # "url" | "data_uri" | "base64" | "multipart"


class DownloadFailed(Exception):
    pass


# Bytes downloaded from each host:port since the last reset: shows who served the files (the
# portal, or a bucket it presigned a URL for). `GET /_control/downloads`.
_downloaded: Counter[str] = Counter()
_downloaded_lock = threading.Lock()


def downloaded_bytes() -> dict[str, int]:
    with _downloaded_lock:
        return dict(_downloaded)


def forget_downloads() -> None:
    with _downloaded_lock:
        _downloaded.clear()


def download(url: str, *, timeout: float, cap: int = DOWNLOAD_CAP) -> Source:
    """Fetch ``url``; raises ``DownloadFailed`` on any network error, non-2xx, timeout or
    a body over ``cap`` bytes."""
    deadline = time.monotonic() + timeout
    if not url.startswith(("http://", "https://")):
        raise DownloadFailed("only http(s) URLs can be downloaded")
    request = urllib.request.Request(url, headers={"User-Agent": "upstream-simulator/1"})  # noqa: S310 -- scheme checked above
    chunks: list[bytes] = []
    size = 0
    # No proxies from the environment: the upstream fetches directly.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=max(timeout, 0.1)) as response:
            content_type = response.headers.get_content_type()
            while chunk := response.read(CHUNK):
                size += len(chunk)
                if size > cap:
                    raise DownloadFailed(f"the file is larger than {cap} bytes")
                if time.monotonic() > deadline:
                    raise DownloadFailed(f"the download took longer than {timeout:g} s")
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        raise DownloadFailed(f"the URL answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DownloadFailed(f"the URL could not be fetched ({type(exc).__name__})") from None
    with _downloaded_lock:
        _downloaded[urllib.parse.urlsplit(url).netloc] += size
    return Source(b"".join(chunks), content_type, "url")


def decode_inline(value: str) -> Source:
    """A ``data:<type>;base64,<payload>`` URI or bare Base64 (whitespace ignored)."""
    content_type, via, payload = "application/octet-stream", "base64", value
    if value.startswith("data:"):
        header, sep, payload = value[5:].partition(",")
        if not sep or not header.endswith(";base64"):
            raise invalid("A data: URI in URL must be Base64-encoded (data:<type>;base64,...).")
        content_type = header.removesuffix(";base64") or content_type
        via = "data_uri"
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("URL must be an http(s) URL, a data: URI or Base64 content.") from None
    if not data:
        raise invalid("URL must be an http(s) URL, a data: URI or Base64 content.")
    return Source(data, content_type, via)


def resolve(url: str, upload: Upload | None, *, timeout: float) -> Source:
    """The file named by a ``CreateAsset`` call. Raises ``DownloadFailed`` or ``ApiError``."""
    if upload is not None:
        return Source(upload.data, upload.content_type, "multipart")
    if url.startswith(("http://", "https://")):
        return download(url, timeout=timeout)
    return decode_inline(url)
