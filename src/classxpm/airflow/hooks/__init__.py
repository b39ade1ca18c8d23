"""Airflow hooks of classxpm."""
