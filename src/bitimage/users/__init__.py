"""Bit-image accounts (the users table)."""
