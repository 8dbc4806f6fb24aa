# fraud_warning worker image: the engine as a Faust worker on Kafka.
# Build: docker build -t fraud-warning .   Run: docker run --rm fraud-warning --broker kafka://kafka:9092

# Build stage: the package in a venv, then its per-event modules compiled with mypyc
# (build_native.py; mypy 2.4 or later, for its acyclic classes) next to the installed
# sources. The compiled modules are copied in after pip installed the sources, so they
# are the newer files: the package refuses a compiled module older than its source.
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md build_native.py ./
COPY fraud_warning ./fraud_warning
RUN python -m venv /opt/fw \
 && /opt/fw/bin/pip install --no-cache-dir . "mypy>=2.4" "setuptools>=77" \
 && /opt/fw/bin/python build_native.py \
 && cp fraud_warning/*.so /opt/fw/lib/python3.11/site-packages/fraud_warning/ \
 && cp fraud_warning/stages/*.so /opt/fw/lib/python3.11/site-packages/fraud_warning/stages/ \
 && /opt/fw/bin/pip uninstall -y mypy librt

# Runtime stage: no compiler. LightGBM's wheel needs the OpenMP runtime.
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 fw
COPY --from=build /opt/fw /opt/fw
ENV PATH=/opt/fw/bin:$PATH
WORKDIR /app

# Rules and models are data: mount your own over these to change the registry.
COPY rules ./rules
COPY models ./models
# glibc's large blocks (the big dict tables) on huge pages too, read at process start:
# pymalloc's arenas the worker moves itself (docs/operations.md, "The heap on huge pages")
ENV FW_RULES=/app/rules FW_MODELS=/app/models PYTHONUNBUFFERED=1 \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1

USER fw
ENTRYPOINT ["fraud-warning", "worker"]
CMD ["--broker", "kafka://kafka:9092"]
