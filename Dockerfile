# syntax=docker/dockerfile:1
# omnimigrate: backup, restore and migration for Omni Analytics.
# Build:  docker build -t omnimigrate .
# The root filesystem can be read-only: the checkpoint cache lives in /var/cache/omnimigrate
# (mount a volume, or an emptyDir on Kubernetes) and nothing else is written.

FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY deploy/requirements.lock ./
RUN pip install --no-cache-dir --prefix=/install -r requirements.lock
COPY pyproject.toml README.md ./
COPY omnimigrate ./omnimigrate
RUN pip install --no-cache-dir --no-deps --prefix=/install .

FROM python:3.11.11-slim-bookworm
COPY --from=build /install /usr/local
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent omnimigrate \
    && mkdir -p /var/cache/omnimigrate \
    && chown omnimigrate:omnimigrate /var/cache/omnimigrate
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMNIMIGRATE_CACHE_DIR=/var/cache/omnimigrate \
    OMNIMIGRATE_LOG_FORMAT=json
VOLUME ["/var/cache/omnimigrate"]
USER 10001:10001
EXPOSE 9090
# Meaningful for `serve` (one-shot runs end before it matters)
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9090/healthz', timeout=3)"]
ENTRYPOINT ["omnimigrate"]
CMD ["--help"]
