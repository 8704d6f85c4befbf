"""The Central Auth Service: accounts, argon2id passwords, signed JWTs and their public keys."""
