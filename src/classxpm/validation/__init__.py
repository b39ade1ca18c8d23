"""The validation gate: Great Expectations rules, quarantine of bad funds and per-run reports.

Only ``rules`` and ``report`` are light to import; ``gate`` and ``expectations`` pull in Great
Expectations and pandas, so import them inside tasks, never at DAG parse time.
"""
