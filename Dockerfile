# fraud_warning worker image: the engine as a Faust worker on Kafka.
# Build: docker build -t fraud-warning .   Run: docker run --rm fraud-warning --broker kafka://kafka:9092
FROM python:3.11-slim

# LightGBM's wheel needs the OpenMP runtime.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 fw
WORKDIR /app

COPY pyproject.toml README.md ./
COPY fraud_warning ./fraud_warning
RUN pip install --no-cache-dir .

# Rules and models are data: mount your own over these to change the registry.
COPY rules ./rules
COPY models ./models
ENV FW_RULES=/app/rules FW_MODELS=/app/models PYTHONUNBUFFERED=1

USER fw
ENTRYPOINT ["fraud-warning", "worker"]
CMD ["--broker", "kafka://kafka:9092"]
