"""The client command groups, one module per family of resources."""
