"""The WSGI entry point for gunicorn: ``coriolis_api.wsgi:app``."""

from coriolis_api.app import create_app

app = create_app()
