"""Bit-image accounts (the seed's users table)."""
