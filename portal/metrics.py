"""/metrics: counts for Prometheus, behind a key.

Only numbers leave here, labelled by status or upstream error code: never a name, an id, a
file or a face. Each scrape runs a handful of grouped COUNTs on indexed columns, and the
retention queries of `verification.retention`.
"""

import hmac
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from assets.models import Asset
from ledger.models import LedgerHead
from portal.models import Heartbeat
from upstream.models import UpstreamCall
from verification import retention
from verification.models import LivenessAttempt, VerificationSession

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ERROR_WINDOW = timedelta(hours=1)
# Upstream error codes become label values: keep them to the shapes codes have, and few.
_CODE = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,80}")
MAX_ERROR_CODES = 50
BACKLOG = (Asset.Status.RECEIVED, Asset.Status.VALIDATED, Asset.Status.FORWARDING)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    key = settings.METRICS_KEY
    if not key:
        raise Http404("metrics are off: set METRICS_KEY")
    sent = request.headers.get("Authorization", "")
    scheme, _, credential = sent.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        credential.strip().encode(), key.encode()
    ):
        response = HttpResponse(
            "A metrics key is required.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse("".join(render()), content_type=CONTENT_TYPE)


def render() -> Iterable[str]:
    now = timezone.now()
    yield from _family(
        "sitter_sessions",
        "Verification sessions by status.",
        _by_status(VerificationSession, VerificationSession.Status.values),
    )
    yield from _family("sitter_assets", "Assets by status.", _by_status(Asset, Asset.Status.values))
    backlog = Asset.objects.filter(status__in=BACKLOG).count()
    yield from _family(
        "sitter_forwarding_backlog",
        "Assets received but not yet accepted by the upstream.",
        [({}, backlog)],
    )
    due_poll = LivenessAttempt.objects.filter(
        status=LivenessAttempt.Status.PENDING, next_poll_at__lte=now
    ).aggregate(oldest=Min("next_poll_at"))["oldest"]
    yield from _family(
        "sitter_liveness_poll_lag_seconds",
        "How long the most overdue liveness result poll has waited past its time.",
        [({}, _seconds_since(due_poll, now))],
    )
    due_check = Asset.objects.filter(
        status=Asset.Status.PROCESSING, next_check_at__lte=now
    ).aggregate(oldest=Min("next_check_at"))["oldest"]
    yield from _family(
        "sitter_asset_check_lag_seconds",
        "How long the most overdue upstream asset status check has waited past its time.",
        [({}, _seconds_since(due_check, now))],
    )
    errors = (
        UpstreamCall.objects.filter(created_at__gte=now - ERROR_WINDOW)
        .exclude(error_code="")
        .values("error_code")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    by_code: dict[str, int] = {}
    for row in errors:
        code = row["error_code"] if _CODE.fullmatch(row["error_code"]) else "other"
        if len(by_code) >= MAX_ERROR_CODES and code not in by_code:
            code = "other"
        by_code[code] = by_code.get(code, 0) + row["n"]
    yield from _family(
        "sitter_upstream_errors_last_hour",
        "Upstream calls that ended in an error during the last hour, by error code.",
        [({"code": code}, n) for code, n in sorted(by_code.items())],
    )
    yield from _family(
        "sitter_retention_overdue",
        "Retention past its deadline and not yet carried out: persons whose likeness is still "
        "held, and local copies of uploads kept longer than RETENTION_LOCAL_MEDIA_DAYS.",
        [
            ({"kind": "person"}, retention.due_persons(now=now).count()),
            ({"kind": "local_copy"}, retention.expired_local_copies(now=now).count()),
        ],
    )
    beat = Heartbeat.objects.filter(name="worker").values_list("beat_at", flat=True).first()
    yield from _family(
        "sitter_worker_heartbeat_age_seconds",
        "Seconds since a worker last ran the periodic heartbeat (-1: never).",
        [({}, _seconds_since(beat, now) if beat else -1)],
    )
    head = LedgerHead.objects.filter(pk=1).values_list("seq", flat=True).first()
    yield from _family("sitter_audit_events", "Events in the audit ledger.", [({}, head or 0)])


def _by_status(
    model: type[Asset] | type[VerificationSession], statuses: list[str]
) -> list[tuple[dict[str, str], float]]:
    counts: dict[str, int] = dict(
        model.objects.values_list("status").annotate(n=Count("pk")).order_by()
    )
    return [({"status": status}, counts.get(status, 0)) for status in statuses]


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    if moment is None:
        return 0.0
    return max(0.0, round((now - moment).total_seconds(), 3))


def _family(
    name: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]
) -> Iterable[str]:
    yield f"# HELP {name} {help_text}\n"
    yield f"# TYPE {name} gauge\n"
    for labels, value in samples:
        text = ",".join(f'{key}="{_escape(val)}"' for key, val in labels.items())
        yield f"{name}{{{text}}} {_number(value)}\n" if text else f"{name} {_number(value)}\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
