"""The Class source database: its schema contract, demo data and extraction."""
