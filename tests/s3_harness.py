"""An S3 API server on 127.0.0.1 (moto's server mode) for the object-storage tests and benchmark,
and the settings that point media storage at a fresh bucket on it."""

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

MOTO_AVAILABLE = importlib.util.find_spec("moto") is not None
ACCESS_KEY, SECRET_KEY, REGION = "sitter-test", "sitter-test-secret", "us-east-1"


@dataclass
class S3Server:
    process: subprocess.Popen[bytes]
    url: str

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def new_bucket(self) -> str:
        name = f"sitter-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def storages(self, settings_storages: dict[str, Any], bucket: str, **extra: Any) -> dict:
        """`settings_storages` with media in `bucket` (under the prefix "media")."""
        from portal.objectstore import storage_options

        options = storage_options(
            f"s3://{bucket}/media?endpoint_url={self.url}&region={REGION}&addressing_style=path"
        )
        options.update(access_key=ACCESS_KEY, secret_key=SECRET_KEY, security_token=None, **extra)
        return {
            **settings_storages,
            "default": {"BACKEND": "assets.s3.MediaS3Storage", "OPTIONS": options},
        }

    def keys(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_s3_server() -> S3Server:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310 -- local
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto's S3 server did not start") from None
            time.sleep(0.1)
    return S3Server(process, url)


def stop_s3_server(server: S3Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
