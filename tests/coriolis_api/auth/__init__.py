"""Keystone authentication and access rules of the API, against a real Keystone."""
