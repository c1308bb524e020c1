"""The documents the API serves in upstream Coriolis' formats, and the JSON Schemas that state those formats."""
