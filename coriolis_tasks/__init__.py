"""The Celery face: a migration as a canvas of thin, idempotent stage tasks."""
