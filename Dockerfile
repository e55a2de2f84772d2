FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# CJK fonts for the leaderboard charts (labels in Chinese must never render as boxes); libgomp1 for LightGBM.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk libgomp1 \
 && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md constraints.txt ./
COPY bot ./bot
COPY handlers ./handlers
COPY tagging ./tagging
COPY sop ./sop
COPY leads ./leads
COPY config ./config
COPY orgsync ./orgsync
COPY channels ./channels
COPY sidebar ./sidebar
COPY predict ./predict
RUN pip install -c constraints.txt .

RUN useradd --create-home scrm
USER scrm
EXPOSE 8080
# One process does web + worker; scale with --role web / --role worker in separate containers.
# (--host 0.0.0.0: the container's own interface; publish it only behind a proxy, see SECURITY.md.)
CMD ["scrm", "serve", "--role", "all", "--host", "0.0.0.0"]
