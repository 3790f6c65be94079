"""Reading MEDIA_STORAGE_URL: the S3-compatible bucket that keeps uploaded media, when there is one.

    MEDIA_STORAGE_URL=s3://BUCKET[/PREFIX][?endpoint_url=URL&region=NAME&addressing_style=path
                      &sse=AES256|aws:kms&sse_kms_key_id=ID]

Credentials are not part of the URL (it is logged and shown in diagnostics): they come from
AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or their _FILE variants), else from boto3's own
chain (an instance or pod role). Read at settings time, so it imports nothing from Django.
"""

from urllib.parse import parse_qs, urlsplit

from portal import env

KNOWN_PARAMETERS = frozenset(
    {"endpoint_url", "region", "addressing_style", "sse", "sse_kms_key_id"}
)
SSE_VALUES = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
# Parts of a multipart upload, and how many are read ahead at once: what an upload holds in
# memory is about their product (the S3 minimum part is 5 MB).
PART_BYTES = 8 * 1024 * 1024
PARTS_AT_ONCE = 2


class StorageURLError(ValueError):
    pass


def storage_options(url: str) -> dict[str, object]:
    """The `OPTIONS` of django-storages' S3Storage for `url`; raises StorageURLError with what to
    change when the URL can't be used."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise StorageURLError(
            f"MEDIA_STORAGE_URL must look like s3://bucket/prefix, not {url!r}: leave it empty "
            "to keep media under MEDIA_ROOT."
        )
    if parts.username or parts.password:
        raise StorageURLError(
            "MEDIA_STORAGE_URL must not carry credentials: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or their _FILE variants) instead."
        )
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - KNOWN_PARAMETERS)
    if unknown:
        raise StorageURLError(
            f"MEDIA_STORAGE_URL has unknown parameters {', '.join(unknown)}; the known ones are "
            f"{', '.join(sorted(KNOWN_PARAMETERS))}."
        )
    sse = query.get("sse", "")
    if sse and sse not in SSE_VALUES:
        raise StorageURLError(
            f"MEDIA_STORAGE_URL's sse must be one of {', '.join(sorted(SSE_VALUES))}, not {sse!r}."
        )
    from boto3.s3.transfer import TransferConfig

    object_parameters: dict[str, str] = {}
    if sse:
        object_parameters["ServerSideEncryption"] = sse
    if kms_key := query.get("sse_kms_key_id"):
        object_parameters["SSEKMSKeyId"] = kms_key
    transfer = TransferConfig(
        multipart_threshold=PART_BYTES,
        multipart_chunksize=PART_BYTES,
        max_concurrency=PARTS_AT_ONCE,
    )
    # s3transfer reads up to this many parts of a file into memory ahead of sending them (10 by
    # default: 80 MB for a 45 MB video). boto3's constructor doesn't take it; the attribute is
    # s3transfer's documented setting.
    transfer.max_in_memory_upload_chunks = PARTS_AT_ONCE
    return {
        "bucket_name": parts.netloc,
        "location": parts.path.strip("/"),
        "endpoint_url": query.get("endpoint_url") or None,
        "region_name": query.get("region") or None,
        "addressing_style": query.get("addressing_style") or None,
        "signature_version": "s3v4",
        "access_key": env.optional_secret("AWS_ACCESS_KEY_ID") or None,
        "secret_key": env.optional_secret("AWS_SECRET_ACCESS_KEY") or None,
        "security_token": env.optional_secret("AWS_SESSION_TOKEN") or None,
        # Private objects: no ACL is sent, so the bucket's own (private) policy applies.
        "default_acl": None,
        "querystring_auth": True,
        # Names are random ids; a name is never reused, so nothing is looked up before writing.
        "file_overwrite": True,
        "object_parameters": object_parameters,
        "transfer_config": transfer,
    }
