# voc-bot: `voc serve` (Slack events, Telegram webhook, /healthz, /readyz, /metrics) on port 8000.
# Build: docker build -t voc-bot .   Run: see compose.yaml and README "Deployment".
# Charts need Cyrillic and Chinese glyphs: the noto-cjk-sans-otc dependency ships Noto Sans CJK
# inside the wheel set, and matplotlib's DejaVu Sans has Latin and Cyrillic, so the image needs no
# system font packages.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY jobs ./jobs
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VOC_DEPARTMENTS=/config/departments.toml \
    VOC_LOG_FORMAT=json
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels /wheels/voc_bot-*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 voc \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /app voc
# The example company, for a first start without a departments file of your own.
COPY departments.example.toml /config/departments.toml
USER 10001:10001
WORKDIR /app
EXPOSE 8000
# Ready = database reachable and writable, schema at the head, dispatcher alive within 30 s.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["voc", "serve", "--host", "0.0.0.0", "--port", "8000"]
