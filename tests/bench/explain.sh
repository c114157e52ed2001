#!/usr/bin/env bash
# The plans PostgreSQL runs for the storefront's pages, as the pages run them: with the
# demo store seeded (PRODUCTS extra products, 10,000 by default), each kind of page is asked
# for a few times (different products, collections, queries; the same statements reach
# their steady plan), with auto_explain logging every statement's plan with ANALYZE and
# BUFFERS. Prints the last plan of each statement, and flags what a cold page must not do:
# a sort of more than 1,000 rows, a sequential scan of a catalog table.
#
#   bash tests/bench/explain.sh                      # builds the release binary first
#   BUILD=0 PRODUCTS=100000 bash tests/bench/explain.sh
#
# Needs a local PostgreSQL whose log it can read (PG_LOG; default: the newest file in
# /var/log/postgresql), as Debian's packages set it up.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/server.sh

PRODUCTS=${PRODUCTS:-10000}
PORT=${PORT:-8767}
ADMIN_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=storefront_explain
BENCH_URL="${ADMIN_URL%/*}/$DB"
HOST="demo.bench.test"
PG_LOG=${PG_LOG:-$(ls -t /var/log/postgresql/*.log | head -n 1)}
BINARY=./target/release/storefront
if [[ "${BUILD:-1}" != 0 ]]; then
  echo "building the release binary"
  cargo build --release -p platform --bin storefront
fi

fresh_run
serve() { # command
  DATABASE_URL="$BENCH_URL" DATA_DIR="$DATA_DIR" LISTEN_ADDR="127.0.0.1:$PORT" \
    PLATFORM_DOMAIN="bench.test" BENCH_BASELINE=true RUST_LOG=warn PAGE_CACHE_MB=0 \
    "$BINARY" "$@" >"$LOG" 2>&1 &
  SERVER=$!
  wait_for_server /__bench/baseline
}
echo "seeding the demo store with $PRODUCTS products"
serve demo --products "$PRODUCTS"
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
SCHEMA=$(psql "$BENCH_URL" -Atq -c "SELECT schema_name FROM platform.tenants WHERE subdomain = 'demo'")
psql "$BENCH_URL" -q -c "SET search_path = $SCHEMA" -c "VACUUM ANALYZE"
psql "$BENCH_URL" -q \
  -c "ALTER DATABASE $DB SET session_preload_libraries = 'auto_explain'" \
  -c "ALTER DATABASE $DB SET auto_explain.log_min_duration = 0" \
  -c "ALTER DATABASE $DB SET auto_explain.log_analyze = on" \
  -c "ALTER DATABASE $DB SET auto_explain.log_buffers = on" \
  -c "ALTER DATABASE $DB SET auto_explain.log_timing = off"
serve serve

BASE="http://127.0.0.1:$PORT"
in_store() { psql "$BENCH_URL" -Atq -c "SET search_path = $SCHEMA" -c "$1"; }
mapfile -t PRODUCT_HANDLES < <(in_store "SELECT handle FROM products WHERE status = 'active' ORDER BY random() LIMIT 8")
mapfile -t COLLECTIONS < <(in_store "SELECT handle FROM collections ORDER BY random() LIMIT 8")
mapfile -t DEEP < <(in_store "SELECT (extract(epoch FROM published_at) * 1000000)::bigint || '~' || id FROM products WHERE status = 'active' ORDER BY random() LIMIT 8")
mapfile -t WORDS < <(in_store "SELECT lower(split_part(title, ' ', 1)) FROM products ORDER BY random() LIMIT 8")
START=$(stat -c %s "$PG_LOG")
get() { curl -s -o /dev/null -w '%{http_code} %{time_total}s %{url_effective}\n' -H "Host: $HOST" "$BASE$1" | sed "s|$BASE||"; }
for i in $(seq 0 7); do
  get "/"
  get "/products/${PRODUCT_HANDLES[i % ${#PRODUCT_HANDLES[@]}]}"
  get "/collections/${COLLECTIONS[i % ${#COLLECTIONS[@]}]}"
  get "/collections/all?after=${DEEP[i % ${#DEEP[@]}]}"
  get "/collections/all?sort_by=price-ascending"
  get "/collections/${COLLECTIONS[i % ${#COLLECTIONS[@]}]}?sort_by=price-ascending"
  get "/search?q=${WORDS[i % ${#WORDS[@]}]}"
done | awk '{ print $1 }' | sort | uniq -c | sed "s/^/  status /"
get /sitemap.xml
get /sitemaps/products.xml
sleep 1
echo
echo "plans (the last of each statement; timing off, so times are the statement's whole run):"
tail -c +"$((START + 1))" "$PG_LOG" | python3 tests/bench/plans.py
