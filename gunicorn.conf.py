# Read by gunicorn from the working directory (bin/sitter web runs it from the repository root, the
# image from /app). Access lines go through the redacting logger: a person's link token in a
# request path or referrer never reaches the log.
import os

logger_class = "portal.logging.GunicornLogger"

# X-Forwarded-Proto (and the rest) is honoured only from these peers: the reverse proxy. The same
# variable tells the portal whose X-Forwarded-For to believe (portal/clients.py).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
