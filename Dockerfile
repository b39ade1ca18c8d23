# The classxpm image: Airflow's own image at the version requirements.txt pins, the package installed
# within the lock (constraints.txt), so the containers run the same versions the tests run.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 constraints.txt pyproject.toml README.md /opt/classxpm/
COPY --chown=airflow:0 src /opt/classxpm/src

# Pinning apache-airflow to the image's own version keeps pip from moving Airflow while it resolves.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -c /opt/classxpm/constraints.txt /opt/classxpm \
    && mkdir -p /opt/airflow/reports /opt/airflow/xpm-sim
