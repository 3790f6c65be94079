# Shared by bin/backup and bin/restore (sourced, not run): where the database and the media are,
# read from the portal's own settings so every default and environment variable counts.
CALLER_DIR="$PWD"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# A path given on the command line, relative to where the command was run.
from_caller() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$CALLER_DIR/$1" ;; esac; }

load_settings() {
  local assignments
  assignments="$("$PYTHON" - <<'PY'
import os
import shlex

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
from django.conf import settings

from portal.env import VAR_DIR

db = settings.DATABASES["default"]
engine = db["ENGINE"]
kind = "postgresql" if "postgresql" in engine else "sqlite" if "sqlite3" in engine else engine
values = {
    "DB_KIND": kind,
    "DB_NAME": db.get("NAME") or "",
    "DB_HOST": db.get("HOST") or "",
    "DB_PORT": db.get("PORT") or "",
    "DB_USER": db.get("USER") or "",
    "DB_PASSWORD": db.get("PASSWORD") or "",
    "DB_SSLMODE": (db.get("OPTIONS") or {}).get("sslmode", ""),
    "MEDIA_DIR": settings.MEDIA_ROOT,
    # Media kept in a bucket (MEDIA_STORAGE_URL) is backed up beside this: docs/backup.md.
    "MEDIA_IN_BUCKET": "yes" if settings.MEDIA_STORAGE_URL else "",
    "DEFAULT_BACKUP_DIR": VAR_DIR / "backups",
}
for name, value in values.items():
    print(f"{name}={shlex.quote(str(value))}")
PY
)" || die "could not read the portal's settings"
  eval "$assignments"
  if [ "$DB_KIND" = postgresql ]; then
    # libpq reads these; the password never appears on a command line.
    export PGDATABASE="$DB_NAME" PGHOST="$DB_HOST" PGPORT="$DB_PORT" PGUSER="$DB_USER"
    [ -n "$DB_PASSWORD" ] && export PGPASSWORD="$DB_PASSWORD"
    [ -n "$DB_SSLMODE" ] && export PGSSLMODE="$DB_SSLMODE"
  fi
  return 0
}
