# Web and worker image. `--build-arg WITH_TRAIN=1` adds torch/transformers for the GPU worker
# (PyPI's default torch wheel for Linux is the CUDA build, which is what a GPU box wants).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    RANKWISE_DATA_DIR=/data DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY annotate ./annotate
COPY agreement ./agreement
COPY rewardmodel ./rewardmodel
COPY training ./training
COPY exports ./exports
COPY rlhf ./rlhf
ARG WITH_TRAIN=0
RUN if [ "$WITH_TRAIN" = "1" ]; then pip install ".[train]"; else pip install .; fi
COPY manage.py ./
COPY templates ./templates
COPY static ./static
RUN DJANGO_SECRET_KEY=build-only-collectstatic python manage.py collectstatic --no-input -v 0
RUN useradd --create-home --uid 1000 rankwise && mkdir -p /data && chown rankwise /data
USER rankwise
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
