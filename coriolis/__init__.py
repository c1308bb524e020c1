"""Coriolis core: configuration, statuses, database and the live progress store."""
