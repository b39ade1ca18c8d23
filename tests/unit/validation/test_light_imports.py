from __future__ import annotations

import subprocess
import sys

LIGHT = (
    "classxpm.validation.rules",
    "classxpm.validation.report",
    "classxpm.validation.data_docs",
    "classxpm.validation.outcome",
    "classxpm.cli.report",
)


def test_rules_reports_and_the_cli_import_neither_pandas_nor_gx():
    code = "import sys\n" + "".join(f"import {name}\n" for name in LIGHT)
    code += "print(sorted(m for m in ('pandas', 'great_expectations') if m in sys.modules))"
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert printed.strip() == "[]"
