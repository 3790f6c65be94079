"""The embedded broker: a folder of message files that several processes share (`make run`).

kombu's file-system transport opens a message file under its final name and then writes it, so a
consumer listing the folder at that moment reads an empty or partial file, and the decode error it
raises stops the worker ("Unrecoverable error"). It also claims a file by moving it to the system's
temporary folder, which on another file system is a copy two consumers can both make.

This transport (URL ``sitterfs://``) keeps the folder layout and fixes both:

- a message is written under a temporary name that no consumer looks at, then renamed into place
  (`os.replace`, atomic on POSIX): a visible message is a complete one;
- a consumer claims a message by renaming it into ``claimed_folder`` next to the queue, on the
  same file system: exactly one rename succeeds, the others find nothing and move on;
- a message that still can't be decoded (written by something else, damaged on disk) is moved to
  ``corrupt_folder`` with a log line, and the worker goes on with the next one.
"""

import logging
import os
import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

logger = logging.getLogger(__name__)

SCHEME = "sitterfs"
# Names a consumer never takes for a message: kombu's consumer wants "<stamp>_<uuid>.<queue>.msg".
_WRITING_PREFIX = ".writing-"


class Channel(filesystem.Channel):
    # kombu's two base classes name the second parameter differently; this one follows its parent.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        folder = Path(self.data_folder_out)
        temporary = folder / f"{_WRITING_PREFIX}{uuid.uuid4()}"
        try:
            with open(temporary, "xb") as file:
                file.write(dumps(payload).encode())
            os.replace(temporary, folder / name)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise filesystem.ChannelError(f"Cannot add a message to {folder}: {error}") from error

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        suffix = f".{queue}.msg"
        folder = Path(self.data_folder_in)
        for name in sorted(os.listdir(folder)):
            if name.startswith(_WRITING_PREFIX) or name.partition(".")[2] != suffix[1:]:
                continue
            claimed = self.claimed_folder / f"{name}.{os.getpid()}"
            try:
                os.rename(folder / name, claimed)
            except FileNotFoundError:
                continue  # another consumer took it
            try:
                raw = claimed.read_bytes()
                message = loads(raw.decode())
            except (UnicodeDecodeError, ValueError) as error:
                self._set_aside(claimed, name, error)
                continue
            self._done_with(claimed, name)
            return message
        raise filesystem.Empty()

    def _set_aside(self, claimed: Path, name: str, error: Exception) -> None:
        target = self.corrupt_folder / name
        os.replace(claimed, target)
        logger.error(
            "broker message %s can't be decoded (%s); moved to %s, the worker goes on",
            name,
            error,
            target,
        )

    def _done_with(self, claimed: Path, name: str) -> None:
        if self.store_processed:
            os.replace(claimed, Path(self.processed_folder) / name)
        else:
            claimed.unlink()

    @cached_property
    def claimed_folder(self) -> Path:
        return self._folder("claimed_folder", "claimed")

    @cached_property
    def corrupt_folder(self) -> Path:
        return self._folder("corrupt_folder", "corrupt")

    def _folder(self, option: str, default: str) -> Path:
        folder = Path(
            self.transport_options.get(option)
            or Path(self.data_folder_in).resolve().parent / default
        )
        folder.mkdir(parents=True, exist_ok=True)
        return folder


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = driver_name = SCHEME


TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")
