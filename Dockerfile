# The KakaoTalk-outage Q&A bot. Configuration comes from environment variables only.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The shipped knowledge is baked in; mount a folder over /app/knowledge to replace it.
COPY knowledge ./knowledge

# Install the package the same way CI does (a regular, non-editable install).
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install .

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot:bot /data

ENV BOT_KNOWLEDGE_DIR=/app/knowledge \
    BOT_DB_PATH=/data/incident-bot.db

# The SQLite database (and the heartbeat file next to it) live on a volume.
VOLUME ["/data"]

USER bot

HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["incident-bot", "health"]

ENTRYPOINT ["incident-bot", "run"]
