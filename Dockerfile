# Bit-image: API, CAS and worker in one slim image; run as a non-root user.
# Build: docker build -t bitimage .   Run: see compose.yaml (postgres, beanstalkd, minio, api, worker).
# The optional backends are baked in; the people analyser (nudenet, AGPL-3.0) only on request:
#   docker build --build-arg EXTRAS=postgres,s3,beanstalk,people -t bitimage .

FROM python:3.11-slim AS build
ARG EXTRAS=postgres,s3,beanstalk
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# The runtime and the backends of EXTRAS; never the test and lint tools.
RUN python -m venv /opt/bitimage \
 && /opt/bitimage/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/bitimage/bin/pip install --no-cache-dir ".[${EXTRAS}]"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/bitimage --create-home bitimage
COPY --from=build /opt/bitimage /opt/bitimage
ENV PATH=/opt/bitimage/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BITIMAGE_HOST=0.0.0.0 \
    BITIMAGE_DATA_DIR=/var/lib/bitimage
USER bitimage
WORKDIR /var/lib/bitimage
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["bitimage", "serve"]
