# Read by gunicorn from the working directory (bin/sitter web runs it from the repository root, the
# image from /app). Access lines go through the redacting logger: a person's link token in a
# request path or referrer never reaches the log.
logger_class = "portal.logging.GunicornLogger"
