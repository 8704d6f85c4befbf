"""Database plumbing shared by every feature package."""
