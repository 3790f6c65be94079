import re
from argparse import ArgumentParser, ArgumentTypeError
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from ledger.signing import fingerprint, load_public_key, signing_key
from ledger.verify import CHUNK_SIZE, Anchor, verify_ledger
from ledger.witness import BadStatement, read_statement

EXPECT_PATTERN = re.compile(r"(\d+):([0-9a-f]{64})")
STAMP_PATTERN = re.compile(r"\d{8}T\d{6}Z")


def public_key_argument(value: str) -> Ed25519PublicKey:
    """A public key given inline (base64 or PEM) or as the path of a file holding one."""
    path = Path(value)
    try:
        text = path.read_text() if path.is_file() else value
        return load_public_key(text)
    except (OSError, ValueError) as error:
        raise ArgumentTypeError(f"not an Ed25519 public key: {error}") from error


def expect_argument(value: str) -> Anchor | Path:
    """SEQ:HASH as written down, or a witness's checkpoint file (its signature is checked once
    the keys are known)."""
    if match := EXPECT_PATTERN.fullmatch(value.strip().lower()):
        return Anchor(int(match[1]), match[2], f"--expect {match[1]}")
    path = Path(value)
    if path.is_file():
        return path
    raise ArgumentTypeError(
        "expected SEQ:HASH, e.g. 1200:3fa9… (64 hex digits), or a checkpoint-N.json file"
    )


def instant_argument(value: str) -> datetime:
    """An aware instant: ISO 8601 (UTC when no offset is given), or a backup's stamp such as
    20260101T120000Z."""
    text = value.strip()
    if STAMP_PATTERN.fullmatch(text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:8]}T{text[9:11]}:{text[11:13]}:{text[13:15]}Z"
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise ArgumentTypeError("expected a date and time, e.g. 2026-01-31T09:00:00Z")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def anchors(expected: list[Anchor | Path], keys: list[Ed25519PublicKey]) -> list[Anchor]:
    found = []
    for item in expected:
        if isinstance(item, Path):
            try:
                seq, head_hash = read_statement(item, keys)
            except BadStatement as error:
                raise CommandError(str(error), returncode=1) from error
            item = Anchor(seq, head_hash, f"the witness file {item.name}", signed=True)
        found.append(item)
    return found


class Command(BaseCommand):
    help = (
        "Verify the audit ledger: recompute every hash, follow every link and seq, check every "
        "checkpoint's signature and that the chain still holds its event. Exits 1 naming the "
        "first broken event, or prints one OK line."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--public-key",
            action="append",
            type=public_key_argument,
            metavar="KEY",
            help="Verify checkpoints with this key (base64, PEM, or a file) instead of the "
            "configured one; repeat for rotated keys.",
        )
        parser.add_argument(
            "--expect",
            action="append",
            type=expect_argument,
            default=[],
            metavar="SEQ:HASH|FILE",
            help="Also require event SEQ to have HASH (a checkpoint kept outside the database), "
            "or what a witness's checkpoint-N.json says, once its signature verifies.",
        )
        parser.add_argument(
            "--as-of",
            type=instant_argument,
            metavar="TIME",
            help="Judge whether checkpoints were still being made at TIME instead of now: for a "
            "copy of the database taken then (a backup's stamp, e.g. 20260101T120000Z).",
        )
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="Rows per fetch.")

    def handle(self, *args: Any, **options: Any) -> None:
        keys = options["public_key"] or [signing_key().public_key()]
        report = verify_ledger(
            keys=keys,
            expected=anchors(options["expect"], keys),
            chunk_size=options["chunk_size"],
            as_of=options["as_of"],
        )
        if report.ok:
            plural = "" if report.checkpoints_verified == 1 else "s"
            self.stdout.write(
                f"OK: {report.events} events, head seq {report.last_seq} hash {report.last_hash}, "
                f"{report.checkpoints_verified} signed checkpoint{plural} verified "
                f"(key {', '.join(fingerprint(key)[:16] for key in keys)})"
            )
            return
        first, *rest = report.problems
        lines = [f"BROKEN: {first}"]
        lines += [f"  also: {problem}" for problem in rest]
        if report.unlisted_problems:
            lines.append(f"  and {report.unlisted_problems} more problems")
        lines.append(
            f"({report.events} events read, {report.checkpoints_verified} signed checkpoints "
            "verified)"
        )
        raise CommandError("\n".join(lines), returncode=1)
