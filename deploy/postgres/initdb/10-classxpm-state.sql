-- Run by the postgres image once, when its data volume is first initialised (docker-compose.yaml mounts
-- this folder on /docker-entrypoint-initdb.d). Airflow's metadata lives in the `airflow` database; the
-- pipeline's own state (grants, links, run history) lives beside it, owned by the same user.
-- `classxpm db upgrade` (run by airflow-init) then creates and migrates its tables.
CREATE DATABASE classxpm_state;
