# One image for every lxt process: the command picks the role (api, worker, migrate).
FROM python:3.12-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, so that code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p server triggers questionnaires notifications && touch server/__init__.py \
    && pip install . && pip uninstall -y lxt

COPY . .
RUN pip install --no-deps -e . && useradd --system --uid 10001 lxt
USER lxt

ENV LXT_HOST=0.0.0.0 LXT_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health').status != 200)"
CMD ["lxt", "serve"]
