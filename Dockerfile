# One image for the OMS API and worker (the command picks which).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini worker.py ./
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY routing ./routing
COPY api ./api
COPY devstack ./devstack
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["uvicorn", "--factory", "api.app:create_app", "--host", "0.0.0.0", "--port", "8000"]
