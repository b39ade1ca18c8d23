"""Airflow integration of classxpm: hooks and the provider registration."""
