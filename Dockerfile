# syntax=docker/dockerfile:1
# The image is what `pip install .` makes of the repository (the packages pyproject.toml finds),
# never a hand-kept list of folders: tests/test_image.py assembles the same files from the COPY
# lines below and .dockerignore, installs them the same way and starts the app from them alone.

# Build: the project and its pinned dependencies into one virtualenv.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN python -m venv /opt/scrm \
 && /opt/scrm/bin/pip install --quiet -c constraints.txt .

# Run: the virtualenv, the system libraries it needs, a non-root user; no compiler, no sources.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/scrm/bin:$PATH
# data/spool: the web's callback spool (SCRM_SPOOL_DIR), owned by the app's user so a volume there is too.
# CJK fonts for the leaderboard charts (labels in Chinese must never render as boxes); libgomp1 for LightGBM.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 scrm \
 && install -d -o scrm -g scrm /home/scrm/data /home/scrm/data/spool
COPY --from=build /opt/scrm /opt/scrm
USER scrm
WORKDIR /home/scrm
EXPOSE 8080
# Every role answers /healthz on its port (a stopping web process answers 503 so the proxy drains it).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=2)"]
# One process does web + worker; scale with --role web / --role worker in separate containers.
# (--host 0.0.0.0: the container's own interface; publish it only behind a proxy, see SECURITY.md.)
# SIGTERM stops it gracefully (docs/operations.md): no request in flight or event held is lost.
STOPSIGNAL SIGTERM
CMD ["scrm", "serve", "--role", "all", "--host", "0.0.0.0"]
