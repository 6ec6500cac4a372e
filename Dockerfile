# The image every Airflow service of docker-compose.yml runs, and the sandbox servers of its demo.
#
# Dependencies come only from requirements.lock, checked against its hashes; the project itself is
# then installed editable with --no-deps, so nothing is resolved or downloaded at container start.
# The editable install points at /opt/airflow/plugins: it registers the provider entry point (the
# sentral and enrolhq connection types) while the code that runs is the plugins folder compose mounts.
FROM python:3.11-slim-bookworm

ARG AIRFLOW_UID=50000

ENV AIRFLOW_HOME=/opt/airflow \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1

# Group 0, as in Airflow's own image, so that files written to mounted folders stay usable whatever
# AIRFLOW_UID the host picks.
RUN useradd --uid "${AIRFLOW_UID}" --gid 0 --home-dir /opt/airflow --no-create-home airflow \
    && python -m venv /opt/venv \
    && mkdir -p /opt/airflow

COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes --no-deps -r /tmp/requirements.lock && rm /tmp/requirements.lock

WORKDIR /opt/airflow
COPY pyproject.toml ./
COPY plugins/ plugins/
COPY dags/ dags/
COPY include/ include/
COPY sandbox/ sandbox/
COPY scripts/stack/ scripts/stack/
RUN pip install --no-deps --no-build-isolation -e . \
    && mkdir -p logs reports \
    && chown -R "${AIRFLOW_UID}:0" /opt/airflow \
    && chmod -R g+rwX /opt/airflow

USER ${AIRFLOW_UID}
ENTRYPOINT ["airflow"]
CMD ["version"]
