"""The REST face: a Flask app (flask-smorest) on port 7667 under ``/v1/<project_id>/``."""
