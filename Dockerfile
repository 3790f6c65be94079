# One image for every role: web, worker, beat (see bin/sitter).
FROM python:3.12-slim-bookworm

# gunicorn listens on every interface of the container, so the published port reaches it;
# docker-compose.yml publishes that port on the host's loopback only, for the reverse proxy, and
# forwarded headers count only from FORWARDED_ALLOW_IPS (the proxy).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SITTER_VAR_DIR=/var/lib/sitter BIND=0.0.0.0:8000

# postgresql-client: pg_dump and pg_restore for bin/backup and bin/restore. Debian bookworm ships
# PostgreSQL 15, the same major version as the db service in docker-compose.yml (pg_dump refuses
# a newer server).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmagic1 postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin sitter

WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
# Static files are collected into the image; the generated build-time secrets are thrown away.
RUN SITTER_VAR_DIR=/tmp/build STATIC_ROOT=/app/staticfiles python manage.py collectstatic --no-input \
    && rm -rf /tmp/build \
    && mkdir -p /var/lib/sitter/media /var/lib/sitter/backups \
    && chown -R sitter:sitter /var/lib/sitter

ENV STATIC_ROOT=/app/staticfiles MEDIA_ROOT=/var/lib/sitter/media BACKUP_DIR=/var/lib/sitter/backups
USER sitter
EXPOSE 8000
# /readyz, asked with an allowed Host header (see bin/healthcheck). Worker and beat containers
# override this in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["bin/healthcheck"]
ENTRYPOINT ["bin/sitter"]
CMD ["web"]
