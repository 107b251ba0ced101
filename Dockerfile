# One image for the OMS API, the worker and the one-shot `prepare` step (the command picks which).
# It runs from the source tree in /app (on PYTHONPATH): templates, static files, migrations and
# data files are read next to the code, exactly as in a checkout.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Runtime dependencies only ([project] dependencies of pyproject.toml, no dev extras), in their
# own layer so that code changes do not reinstall them. tzdata: the code uses zoneinfo, and
# slim images need not ship the IANA time zone files.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt tzdata \
 && rm /tmp/requirements.txt

COPY alembic.ini worker.py ./
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY routing ./routing
COPY api ./api
COPY devstack ./devstack
COPY config ./config
# the demo data set (and the default carriers routing falls back to before a retailer loads its own)
COPY demo ./demo
RUN python -m compileall -q /app \
 && useradd --create-home --uid 10001 --user-group oms

USER oms
EXPOSE 8000 9464
CMD ["uvicorn", "--factory", "api.app:create_app", "--host", "0.0.0.0", "--port", "8000"]
