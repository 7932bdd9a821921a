# The agentstream image: one image for every process kind, selected by the command
# (`orchestrator`, `worker --tool NAME`, `model-worker`, `model-server`, `topics create`, ...).
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build
COPY . .
RUN pip install . \
    && cd / && rm -rf /build \
    && useradd --system --uid 10001 --home-dir /var/lib/agentstream --create-home agentstream

# The orchestrator (Faust) keeps its local data directory under the working directory.
WORKDIR /var/lib/agentstream
USER agentstream

ENTRYPOINT ["agentstream"]
CMD ["--help"]
