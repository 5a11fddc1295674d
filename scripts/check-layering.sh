#!/usr/bin/env bash
# Core must know nothing of sockets, HTTP, SQLite or AWS: fail on any such include.
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -rnE '#include *[<"](boost/|sqlite3|sys/socket|netinet/|arpa/|curl/|openssl/|jwt/|gateway/|adapters/)' src/core; then
  echo "layering: src/core includes an I/O or adapter header (above)" >&2
  exit 1
fi
echo "layering: src/core is free of I/O and adapter headers"
