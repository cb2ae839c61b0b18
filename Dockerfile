# incident-bot: one replica per container. Build: `docker build -t incident-bot .`
# Configuration comes from the environment (docs/configuration.md); compose.yaml runs it
# with PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3978 \
    LOG_FORMAT=json

# The code is root-owned and read-only for the service; /data (the working directory)
# is the only writable place: the SQLite default, the local journal (commands taken while
# the database is away; mount a volume there) and `incident-bot package` output.
RUN useradd --system --uid 10001 --home-dir /data --create-home --shell /usr/sbin/nologin incident

WORKDIR /app
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY integrations ./integrations
COPY manifest ./manifest
# Editable, so that `incident-bot package` finds manifest/ beside the code.
RUN pip install --editable . && python -c "import bot.app, integrations.zoom"

USER incident
WORKDIR /data
EXPOSE 3978
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/livez' % os.environ.get('PORT', '3978'), timeout=4)"]
# `run` applies migrations first; with several replicas run `incident-bot migrate` once
# and start them with `run --no-migrate` (compose.yaml does).
CMD ["incident-bot", "run"]
