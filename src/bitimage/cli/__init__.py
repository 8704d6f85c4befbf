"""The `bitimage` command line."""
