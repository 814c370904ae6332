# syntax=docker/dockerfile:1
# omnimigrate: backup, restore and migration for Omni Analytics.
# Build:  docker build -t omnimigrate .
#   With no registry: bash deploy/container/smoke.sh bootstraps a Debian base and passes it
#   as --build-arg BASE_IMAGE=... (any image with python3.11 at /usr/local/bin/python).
#   Behind a TLS-intercepting proxy: --secret id=pip-ca,src=/etc/ssl/certs/ca-certificates.crt
#   gives pip that CA bundle for the build only; it is never stored in a layer.
# The root filesystem can be read-only. Writable mounts: /var/cache/omnimigrate (checkpoint
# ledgers; a volume, or an emptyDir on Kubernetes) and, only for `demo` without --store, $TMPDIR
# (default /tmp) for its throwaway store.
ARG BASE_IMAGE=python:3.11.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY deploy/requirements.lock ./
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && pip install --no-cache-dir --prefix=/install -r requirements.lock
COPY pyproject.toml README.md ./
COPY omnimigrate ./omnimigrate
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && pip install --no-cache-dir --no-deps --prefix=/install .

FROM ${BASE_IMAGE}
COPY --from=build /install /usr/local
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent omnimigrate \
    && mkdir -p /var/cache/omnimigrate \
    && chown omnimigrate:omnimigrate /var/cache/omnimigrate
# `serve` listens on every interface inside a container (127.0.0.1 is the default elsewhere):
# the pod's network policy, not the bind address, decides who reaches it.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OMNIMIGRATE_CACHE_DIR=/var/cache/omnimigrate \
    OMNIMIGRATE_LOG_FORMAT=json \
    OMNIMIGRATE_SERVICE__HOST=0.0.0.0
VOLUME ["/var/cache/omnimigrate"]
USER 10001:10001
EXPOSE 9090 9091
# Meaningful for `serve` (one-shot runs end before it matters)
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9090/healthz', timeout=3)"]
ENTRYPOINT ["omnimigrate"]
CMD ["--help"]
