# One image, two commands: the web app (default) and the relay (`python -m relay_ws`).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=false \
    RELAY_DATA_DIR=/data \
    RELAY_DATABASE_URL=sqlite:////data/relay.db \
    RELAY_WS_HOST=0.0.0.0

RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm curl unzip \
 && npm install --global --no-audit --no-fund bun@1.4.5 \
 && apt-get purge -y npm && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* /root/.npm

RUN useradd --create-home --uid 10001 relay && mkdir -p /app /data && chown relay:relay /app /data
WORKDIR /app

COPY --chown=relay:relay requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=relay:relay . .
USER relay

# Build the frontend now (bun packages and the production bundle land in .web), so a container
# start only recompiles the pages, in seconds, without any download.
RUN reflex export --frontend-only --no-zip --env prod

VOLUME ["/data"]
EXPOSE 3000 3001

# The web command's health; the relay service in the compose file overrides it with /healthz on 3001.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${RELAY_WEB_PORT:-3000}/api/health" || exit 1

CMD ["reflex", "run", "--env", "prod", "--single-port"]
