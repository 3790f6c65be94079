"""The head row only moves forward, to a stored event; on PostgreSQL every ledger trigger fires
whatever session_replication_role says; on SQLite no INSERT OR REPLACE over a stored row (see
`ledger.triggers`)."""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

from ledger import triggers


def reinstall(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    triggers.uninstall(schema_editor.connection)
    triggers.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_append_only_triggers")]

    # Backwards, the stricter triggers stay: 0002's uninstall removes them all.
    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop, elidable=False)]
