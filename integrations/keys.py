"""Creating, finding and revoking API keys, and the ledger actor a key acts as."""

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from integrations.models import KEY_PREFIX, ApiKey, Scope
from ledger.models import ActorKind
from ledger.services import Actor, record

# last_used_at is written at most this often per key: a clearance in front of every render
# should not cost a row update each time.
LAST_USED_RESOLUTION = 60


class InvalidKeyRequest(ValueError):
    """The key asked for cannot be made (unknown scope, no name)."""


def create_key(
    *,
    name: str,
    scopes: list[str],
    created_by: User | None,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKey, str]:
    """Make a key and the user it acts through; returns the row and the key, which is shown once."""
    name = " ".join(name.split())
    if not name:
        raise InvalidKeyRequest("Give the key a name that says who uses it.")
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown or not scopes:
        raise InvalidKeyRequest(
            f"Unknown scope {', '.join(unknown)}; choose from {', '.join(Scope.values)}."
            if unknown
            else f"Give the key at least one scope: {', '.join(Scope.values)}."
        )
    public_id, secret = ApiKey.mint()
    with transaction.atomic():
        user = User.objects.create_user(username=f"api-{public_id}", is_active=True)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        key = ApiKey.objects.create(
            name=name,
            public_id=public_id,
            key_hash=ApiKey.hash(secret),
            scopes=sorted(set(scopes), key=Scope.values.index),
            user=user,
            created_by=created_by,
            rate_limit_per_minute=rate_limit_per_minute or settings.API_KEY_RATE_LIMIT_PER_MINUTE,
        )
        record(
            action="api_key.created",
            actor=Actor.staff(created_by) if created_by else Actor.system("manage.py"),
            subject=key,
            payload={"key": public_id, "name": name, "scopes": key.scopes},
        )
    return key, secret


def revoke_key(*, key: ApiKey, actor: Actor) -> bool:
    with transaction.atomic():
        if not ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        ):
            return False
        record(
            action="api_key.revoked",
            actor=actor,
            subject=key,
            payload={"key": key.public_id, "name": key.name},
        )
    key.refresh_from_db(fields=["revoked_at"])
    return True


def find_key(secret: str) -> ApiKey | None:
    """The usable key for a bearer token, or None. One query."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    key = (
        ApiKey.objects.usable().select_related("user").filter(key_hash=ApiKey.hash(secret)).first()
    )
    if key is not None:
        _note_use(key)
    return key


def _note_use(key: ApiKey) -> None:
    from portal.throttle import first_in_window

    if first_in_window(f"api-key-used:{key.pk}", window=LAST_USED_RESOLUTION):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())


def over_rate_limit(key: ApiKey) -> bool:
    """Count one request of `key` in the current minute; True past its limit."""
    from portal.throttle import count, hits

    window_key = f"api-rate:{key.pk}:{int(timezone.now().timestamp() // 60)}"
    count(window_key, window=61)
    return hits(window_key) > key.rate_limit_per_minute


def actor_for(key: ApiKey) -> Actor:
    """The ledger actor of everything a key does: its user, labelled with the key's public id
    (the same id and label `Actor.staff(key.user)` gives inside the services)."""
    return Actor(ActorKind.STAFF, str(key.user_id), key.user.get_username())
