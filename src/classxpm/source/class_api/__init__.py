"""The Class API as a second source: OAuth per business, fund and member reads, the same staging rows.

Layered like the XPM client: ``config`` (a frozen value from the ``class_api`` connection), ``auth`` (token
calls), ``client`` (HTTP, rate window, retries, one place that classifies responses), ``reader`` (what to
call for a business) and ``rows`` (API documents into the Class database's rows, by the source mapping).
"""
