"""Uploads, confirmation, expanded views and deletion of images."""
