"""A local Class API simulator: Class's OAuth flows, per-business tokens, fund and member endpoints, limits.

It imports nothing from the client it fakes (``classxpm.source.class_api``) and is seeded from the same
demo data as the Class database (``classxpm.source.demo_data``), so both sources describe the same funds.
"""
