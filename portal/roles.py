"""The staff roles: Django groups with the permissions each job needs.

Being staff (`is_staff`) only lets a person sign in to the staff pages; what they may see and do
there comes from their role. A staff account with no role sees a page saying so, and nothing else.

- coordinator: persons, verification sessions (start, show or send links, cancel), uploads.
- reviewer: reads everything, exports CSV; changes nothing.
- administrator: everything the others can, plus accounts, withdrawing consent on a person's
  behalf, deleting media (upstream and here), projects and consent texts (retention), and
  upstream accounts.

`ensure_roles` creates the groups and the permissions that are not a model's add/change/delete/
view (withdrawing, deleting upstream, exporting...). The roles migration runs it; so can
`manage.py ensure_roles` after a flush, and it is safe to run again: it sets each role's
permissions to exactly the list here.
"""

from typing import Any

COORDINATOR = "coordinator"
REVIEWER = "reviewer"
ADMINISTRATOR = "administrator"
ROLES = (COORDINATOR, REVIEWER, ADMINISTRATOR)

# (app_label, model, codename, name): actions that are not a model's create/read/update/delete.
CUSTOM_PERMISSIONS = (
    ("verification", "verificationsession", "send_link", "Send or show a verification link"),
    ("verification", "verificationsession", "cancel_session", "Cancel a verification session"),
    ("verification", "consent", "withdraw_consent", "Withdraw a consent on the person's behalf"),
    ("assets", "asset", "upload_asset", "Upload media for a verified person"),
    ("assets", "asset", "delete_asset_upstream", "Delete media upstream and here"),
    ("ledger", "auditevent", "export_records", "Export records as CSV"),
)

_VIEW_EVERYTHING = [
    "verification.view_authorizingperson",
    "verification.view_project",
    "verification.view_consenttext",
    "verification.view_verificationsession",
    "verification.view_invitation",
    "verification.view_livenessattempt",
    "verification.view_consent",
    "verification.view_staffnotice",
    "assets.view_assetgroup",
    "assets.view_asset",
    "ledger.view_auditevent",
    "ledger.view_ledgercheckpoint",
    "ledger.view_ledgerhead",
    "upstream.view_upstreamaccount",
    "upstream.view_upstreamcall",
    "portal.view_heartbeat",
    "verification.view_consentcode",
    "integrations.view_apikey",
    "integrations.view_webhookendpoint",
    "integrations.view_webhookdelivery",
    "integrations.view_deliveryattempt",
    "integrations.view_clearance",
    "integrations.view_clearanceitem",
]

_COORDINATOR = [
    "verification.view_authorizingperson",
    "verification.add_authorizingperson",
    "verification.change_authorizingperson",
    "verification.view_project",
    "verification.view_consenttext",
    "verification.view_verificationsession",
    "verification.add_verificationsession",
    "verification.send_link",
    "verification.cancel_session",
    "verification.view_invitation",
    "verification.view_livenessattempt",
    "verification.view_consent",
    "verification.view_staffnotice",
    "assets.view_assetgroup",
    "assets.view_asset",
    "assets.upload_asset",
]

_ADMINISTRATOR = [
    *_VIEW_EVERYTHING,
    *_COORDINATOR,
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.view_group",
    # Lockouts and second factors: unlocking an account, resetting a lost authenticator.
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
    "axes.view_accesslog",
    "axes.view_accessfailurelog",
    "portal.view_encryptedtotpdevice",
    "portal.delete_encryptedtotpdevice",
    "verification.withdraw_consent",
    "verification.add_project",
    "verification.change_project",
    "verification.add_consenttext",
    "verification.change_consenttext",
    "verification.delete_consenttext",
    "verification.change_staffnotice",
    "assets.delete_asset_upstream",
    # The pipeline's keys and webhook endpoints; sending a delivery again.
    "integrations.add_apikey",
    "integrations.change_apikey",
    "integrations.add_webhookendpoint",
    "integrations.change_webhookendpoint",
    "integrations.change_webhookdelivery",
    "ledger.export_records",
    "upstream.add_upstreamaccount",
    "upstream.change_upstreamaccount",
]

PERMISSIONS: dict[str, list[str]] = {
    COORDINATOR: sorted(set(_COORDINATOR)),
    REVIEWER: sorted({*_VIEW_EVERYTHING, "ledger.export_records"}),
    ADMINISTRATOR: sorted(set(_ADMINISTRATOR)),
}


def ensure_roles(apps: Any = None) -> None:
    """Create the custom permissions and the three groups with exactly their permissions.

    `apps`: a migration's historical app registry (default: the live one).
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    content_types = apps.get_model("contenttypes", "ContentType")
    permissions = apps.get_model("auth", "Permission")
    groups = apps.get_model("auth", "Group")
    for app_label, model, codename, name in CUSTOM_PERMISSIONS:
        content_type, _ = content_types.objects.get_or_create(app_label=app_label, model=model)
        permissions.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
    for role, wanted in PERMISSIONS.items():
        group, _ = groups.objects.get_or_create(name=role)
        found = []
        for dotted in wanted:
            app_label, codename = dotted.split(".", 1)
            permission = _permission(apps, app_label, codename)
            found.append(permission)
        group.permissions.set(found)


def _permission(apps: Any, app_label: str, codename: str) -> Any:
    """A model permission, created when the model's own ones are not there yet (a migration runs
    before `post_migrate` makes them)."""
    content_types = apps.get_model("contenttypes", "ContentType")
    permissions = apps.get_model("auth", "Permission")
    found = permissions.objects.filter(content_type__app_label=app_label, codename=codename).first()
    if found is not None:
        return found
    action, model = codename.split("_", 1)
    if action not in ("add", "change", "delete", "view"):
        raise LookupError(f"no permission {app_label}.{codename}")
    try:
        # Django's own wording ("Can view audit event"), which `post_migrate` would have used.
        noun = apps.get_model(app_label, model)._meta.verbose_name
    except LookupError:  # an app whose migrations have not run yet in this migration's state
        noun = model
    content_type, _ = content_types.objects.get_or_create(app_label=app_label, model=model)
    permission, _ = permissions.objects.get_or_create(
        content_type=content_type,
        codename=codename,
        defaults={"name": f"Can {action} {noun}"},
    )
    return permission


def role_names(user: Any) -> list[str]:
    return sorted(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
