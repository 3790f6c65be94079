"""System checks that `check --deploy` runs in addition to Django's own."""

from collections.abc import Sequence

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from ledger.grants import can_change_evidence
from portal import env


@register(Tags.security, deploy=True)
def generated_secrets_check(**kwargs: object) -> list[Warning]:
    """Secrets generated into var/ suit one development machine, not a deployment."""
    return [
        Warning(
            f"{name} was generated into var/secrets/ because it is not set.",
            hint=f"Set {name} (or {name}_FILE) in the environment of every process.",
            id="sitter.W001",
        )
        for name in env.generated_secrets
    ]


@register(Tags.security, deploy=True)
def public_base_url_check(**kwargs: object) -> list[Warning]:
    if settings.PUBLIC_BASE_URL.startswith("https://"):
        return []
    return [
        Warning(
            "PUBLIC_BASE_URL is not an https:// address.",
            hint="People open their invitation links on their phones; serve them over TLS.",
            id="sitter.W002",
        )
    ]


@register(Tags.database, deploy=True)
def evidence_role_check(databases: Sequence[str] | None = None, **kwargs: object) -> list[Warning]:
    """Runs with `check --deploy --database default`: can the portal's own role rewrite evidence?"""
    return [
        Warning(
            f"The database role the portal connects as {', '.join(powers)}: it could change or "
            "remove audit evidence, triggers or not.",
            hint="Run migrations as the owner and the portal as a role set up by "
            "`manage.py ledger_grants ROLE` (docs/operations.md).",
            id="sitter.W003",
        )
        for alias in databases or []
        if (powers := can_change_evidence(connections[alias]))
    ]


@register(Tags.security)
def forwarded_allow_ips_check(**kwargs: object) -> list[Error]:
    """A mistyped proxy address would otherwise surface as an error on the first request."""
    from portal.clients import trusted_networks

    try:
        trusted_networks(tuple(settings.FORWARDED_ALLOW_IPS))
    except ImproperlyConfigured as error:
        return [
            Error(
                str(error),
                hint="List the addresses or networks the reverse proxy connects from, "
                "comma-separated, e.g. 127.0.0.1,::1 or 172.30.232.1.",
                id="sitter.E010",
            )
        ]
    return []
