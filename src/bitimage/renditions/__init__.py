"""Renditions: thumbnails, previews, placeholders and the copy of an original strangers get."""
