#!/usr/bin/env bash
# Checkout benchmark: builds the release binaries, starts the demo store, and runs whole
# guest checkouts through HTTP (add to cart, checkout page, place the order with the test
# gateway, pay with the test card) from many concurrent shoppers. Reports completed
# checkouts per second and the p50/p99 time of one whole checkout, twice: every order
# buying the same variant (one hot stock row), and orders spread over many variants.
#
#   bash tests/bench/checkout.sh
#   CLIENTS=32 SECONDS=15 bash tests/bench/checkout.sh
#
# Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/server.sh

DURATION=${SECONDS_PER_RUN:-10}
CLIENTS=${CLIENTS:-32}
PORT=${PORT:-8766}
ADMIN_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=checkout_bench
BENCH_URL="${ADMIN_URL%/*}/$DB"
HOST="demo.bench.test"

if [[ "${BUILD:-1}" != 0 ]]; then
  echo "building the release binaries"
  cargo build --release -p platform --bin storefront -p storefront-tests --bin checkout_load
fi

fresh_run

echo "starting the demo store"
# The mail goes to files in DATA_DIR (no SMTP server needed); the sweeper runs as usual.
# The connections are the server's default (DATABASE_MAX_CONNECTIONS, 16, of which checkout
# uses the pool's 12) unless set: on two cores
# more connections than that only add backends competing for the CPU while one of them
# holds a popular variant's row.
DATABASE_URL="$BENCH_URL" DATA_DIR="$DATA_DIR" LISTEN_ADDR="127.0.0.1:$PORT" \
  PLATFORM_DOMAIN="bench.test" RUST_LOG=warn \
  ./target/release/storefront demo --products 200 >"$LOG" 2>&1 &
SERVER=$!
wait_for_server /
SCHEMA=$(psql "$BENCH_URL" -Atq -c "SELECT schema_name FROM platform.tenants WHERE subdomain = 'demo'")
# Stock that lasts the whole run, so every checkout can succeed.
psql "$BENCH_URL" -q -c "SET search_path = $SCHEMA" \
  -c "UPDATE variants SET inventory_quantity = 10000000, track_inventory = true" -c "VACUUM ANALYZE"
# Items as handle:variant-id.
ONE=$(psql "$BENCH_URL" -Atq -c "SET search_path = $SCHEMA; SELECT p.handle || ':' || (SELECT v.id FROM variants v WHERE v.product_id = p.id ORDER BY v.position, v.id LIMIT 1) AS item FROM products p WHERE p.status = 'active' AND p.handle LIKE 'sample-%' ORDER BY p.handle LIMIT 1")
MANY=$(psql "$BENCH_URL" -Atq -c "SET search_path = $SCHEMA; SELECT string_agg(item, ',') FROM (SELECT p.handle || ':' || (SELECT v.id FROM variants v WHERE v.product_id = p.id ORDER BY v.position, v.id LIMIT 1) AS item FROM products p WHERE p.status = 'active' AND p.handle LIKE 'sample-%' ORDER BY p.handle LIMIT 200) s")

load() { # name handles
  ./target/release/checkout_load --base "http://127.0.0.1:$PORT" --host "$HOST" \
    --handles "$2" --clients "$CLIENTS" --seconds 3 >/dev/null
  # The warm-up left hundreds of orders in tables analyzed empty; autovacuum would
  # refresh their statistics within a minute, here it is done at once (otherwise the
  # server's cached plans scan those tables whole on every checkout of the run).
  psql "$BENCH_URL" -q -c "SET search_path = $SCHEMA, platform" -c "VACUUM ANALYZE"
  local out
  out=$(./target/release/checkout_load --base "http://127.0.0.1:$PORT" --host "$HOST" \
    --handles "$2" --clients "$CLIENTS" --seconds "$DURATION")
  printf '%s\t%s\n' "$1" "$out"
}

echo
echo "$CLIENTS concurrent shoppers, ${DURATION}s per run; one checkout = add to cart, checkout page, place order, pay"
printf '%-28s %10s %14s %10s %10s %8s\n' run checkouts "checkouts/s" p50 p99 errors
{
  load "same variant" "$ONE"
  load "200 variants" "$MANY"
} | while IFS=$'\t' read -r name n rate p50 p99 errors; do
  printf '%-28s %10s %14s %10s %10s %8s\n' "$name" "$n" "$rate" "$p50" "$p99" "$errors"
done
ORDERS=$(psql "$BENCH_URL" -Atq -c "SET search_path = $SCHEMA; SELECT count(*) || ' orders, ' || count(*) FILTER (WHERE financial_status = 'paid') || ' paid' FROM orders")
echo "in the database: $ORDERS"
