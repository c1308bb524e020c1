"""Providers: one folder each (source and/or destination of a migration)."""
