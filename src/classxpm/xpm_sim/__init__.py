"""A local Xero Practice Manager 3.1 with Xero OAuth, limits and faults, for tests, benchmarks and demos.

See ``docs/xpm-simulator.md`` and ``shared/reference/xpm-api.md`` (whose §10 it implements).
"""
