"""django-storages' S3 backend, uploading a file that is already on disk from its path.

`S3Storage._save` wraps what it is given in a reader that can't seek, so s3transfer copies each
part of the file into memory before sending it, several parts ahead. A kept upload is always a
local file (`assets.storage.keep` hands over its spool), and from a path s3transfer reads each
part straight from the disk as it sends it: a 45 MB video then costs the web worker about one
part in flight, not the whole queue.
"""

from typing import Any

from storages.backends.s3 import S3Storage
from storages.utils import clean_name


class MediaS3Storage(S3Storage):
    def _save(self, name: str, content: Any) -> str:
        local_path = getattr(content, "temporary_file_path", None)
        if local_path is None:
            return str(super()._save(name, content))
        cleaned = clean_name(name)
        key = self._normalize_name(cleaned)
        params = self._get_write_parameters(key, content)
        self.bucket.Object(key).upload_file(
            local_path(), ExtraArgs=params, Config=self.transfer_config
        )
        return str(cleaned)
