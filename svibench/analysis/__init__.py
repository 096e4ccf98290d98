"""Rows to tables: statistics (stats), drift summaries (drift) and the tables (tables)."""
