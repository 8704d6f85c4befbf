#!/usr/bin/env bash
# pgvector for the local PostgreSQL server the tests use, when that server does not offer it yet.
# Debian 12 packages no pgvector for PostgreSQL 15, so this builds Debian's own source of it
# (the `pgvector` source package of Debian 13, checked against the archive's SHA-256) with the
# server's headers from Debian 12 (postgresql-server-dev-N), and installs it beside the server.
# Migration 0013 then creates the extension in each database it migrates.
set -euo pipefail

VERSION=0.8.0
SHA256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
SOURCE=http://deb.debian.org/debian/pool/main/p/pgvector/pgvector_${VERSION}.orig.tar.gz
URL=${BITIMAGE_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
URL=${URL/postgresql+psycopg:/postgresql:}

ask() { psql "$URL" -tAc "$1"; }
if [ "$(ask "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")" = 1 ]; then
    exit 0
fi
MAJOR=$(( $(ask "SHOW server_version_num") / 10000 ))
if [ ! -d "/usr/lib/postgresql/$MAJOR" ]; then
    echo "pgvector: the test server is not this machine's Debian PostgreSQL $MAJOR;" \
         "install pgvector on it (its tests of the HNSW index fail without it)" >&2
    exit 0
fi
SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
$SUDO apt-get install -y -qq "postgresql-server-dev-$MAJOR" >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "postgresql-server-dev-$MAJOR"; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
curl -fsSL -o "$WORK/pgvector.tar.gz" "$SOURCE"
echo "$SHA256  $WORK/pgvector.tar.gz" | sha256sum -c --quiet
tar -xzf "$WORK/pgvector.tar.gz" -C "$WORK"
# with_llvm=no: no JIT bitcode (it would need clang); the server runs the compiled code.
make -s -C "$WORK/pgvector-$VERSION" with_llvm=no PG_CONFIG="/usr/lib/postgresql/$MAJOR/bin/pg_config" >/dev/null
$SUDO make -s -C "$WORK/pgvector-$VERSION" with_llvm=no PG_CONFIG="/usr/lib/postgresql/$MAJOR/bin/pg_config" install >/dev/null
echo "pgvector $VERSION installed for PostgreSQL $MAJOR"
