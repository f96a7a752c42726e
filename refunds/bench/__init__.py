"""The performance harness behind `manage.py bench` / `make bench` (docs/PERFORMANCE.md).

- `sizes`: the data sizes (full = the issue's 1,000,000 orders; small for CI; tiny for tests).
- `database`: a separate database for the run (never the user's), created, migrated, dropped.
- `bulk`: plain-row inserts (executemany on SQLite, COPY on PostgreSQL) for building data fast.
- `dataset`: the shops, staff, buyers, orders, cases, timelines, refunds and reviews.
- `measure`: timing (medians), the SQL floor of a page, peak memory.
- `scenarios`: the queue and case pages, the order import and the nightly sweep.
- `report`: the one table and the budgets.

Nothing here is imported by the application; it only reads and calls it.
"""
