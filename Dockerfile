# Command: one image for the web process (daphne) and the worker (qcluster).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    COMMAND_DATA_DIR=/data \
    PORT=8080

RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 git \
      bubblewrap slirp4netns iproute2 util-linux ripgrep fonts-dejavu-core \
      libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are collected at build time and served by whitenoise.
RUN SECRET_KEY=build-only-not-secret COMMAND_ENV_FILE= COMMAND_DATA_DIR=/app/var \
    python manage.py collectstatic --no-input -v0 \
 && mkdir -p /data \
 && useradd --create-home --uid 10001 command \
 && chown -R command:command /data /app/var

USER command
EXPOSE 8080

# Web: daphne on $PORT (Cloud Run sets it), through command_site.web (body limit, redacted access log).
# The command sandbox needs user namespaces: without them (most managed containers) commands run
# unsandboxed and /health and every approval say so. Worker: override the command with
#   python -m command_site.worker
CMD ["sh", "-c", "python manage.py migrate --no-input && python manage.py createcachetable && exec python -m command_site.web -b 0.0.0.0 -p ${PORT} command_site.asgi:application"]
