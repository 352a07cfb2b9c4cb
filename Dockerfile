# syntax=docker/dockerfile:1
# Cloustral: one image for the web (gunicorn), worker and beat (celery) services of docker-compose.yml.

# --- Front-end libraries from npm, copied into static/vendor/ -------------------------------------
FROM node:20-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY scripts/vendor.mjs scripts/vendor.mjs
RUN node scripts/vendor.mjs

# --- The application ----------------------------------------------------------------------------
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/app/data

RUN groupadd --system --gid 10001 cloustral \
    && useradd --system --uid 10001 --gid cloustral --home-dir /app --shell /usr/sbin/nologin cloustral

WORKDIR /app

# Runtime dependencies only, at the exact versions of constraints.txt (a layer that changes rarely).
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt -c constraints.txt \
    && rm /tmp/requirements.txt

COPY . .
COPY --from=assets /src/static/vendor/ static/vendor/

# Hashed, compressed static files for whitenoise. With DEBUG off the app refuses to start without
# SECRET_KEY and ENCRYPTION_KEYS: throwaway ones exist only for this build step.
RUN DEBUG=false STATIC_MANIFEST=true SECRET_KEY=build-time-only-collectstatic-key \
        ENCRYPTION_KEYS="build:$(python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')" \
        python manage.py collectstatic --noinput \
    && mkdir -p /app/data/exports \
    && chown -R cloustral:cloustral /app/data

USER cloustral
EXPOSE 8000
VOLUME ["/app/data"]

CMD ["gunicorn", "cloustral.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
