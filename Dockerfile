# One image for the three ClaimStream services (ingest, processors, query) and the `claimstream` CLI.
# The command is chosen by docker-compose.yml, e.g.
#   uvicorn services.ingest.main:app --host 0.0.0.0 --port 8001
#   faust -A services.processors.app worker -l info
#   uvicorn services.query.main:app --host 0.0.0.0 --port 8000
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
# (Empty placeholder packages let `pip install .` resolve the dependencies without the sources.)
COPY pyproject.toml ./
RUN mkdir -p services schemas \
    && touch services/__init__.py schemas/__init__.py \
    && pip install '.[postgres]' \
    && pip uninstall -y claimstream \
    && rm -rf services schemas build *.egg-info

# The project itself.
COPY schemas ./schemas
COPY services ./services
RUN pip install --no-deps . && rm -rf build *.egg-info

# Non-root user; .run/ holds the services' local state (SQLite ledgers, faust data) and is a volume.
RUN useradd --create-home --uid 10001 --user-group claimstream \
    && mkdir -p /app/.run \
    && chown -R claimstream:claimstream /app/.run
USER claimstream

EXPOSE 8000 8001 6066
CMD ["uvicorn", "services.query.main:app", "--host", "0.0.0.0", "--port", "8000"]
