#!/usr/bin/env bash
# Storefront speed benchmark: builds the release binary, seeds the demo store with
# 10,000 extra products, and loads the home, collection, product and cart pages with wrk
# (64 connections), next to a baseline handler of the same binary (one SELECT, a tiny
# template). Prints requests/s and p50/p99 latency per page, and each page's share of the
# baseline's requests/s.
#
#   bash tests/bench/storefront.sh            # DATABASE_URL's server, a fresh database
#   DURATION=30s PRODUCTS=10000 bash tests/bench/storefront.sh
#   COMPARE="/tmp/before ./target/release/storefront" ROUNDS=2 bash tests/bench/storefront.sh
#
# COMPARE measures release binaries against each other on one seeded store: each serves
# in turn, ROUNDS times (the order alternates between rounds), so that the machine's drift
# between runs (often 10 %) falls on all of them alike. The first one seeds the store.
#
# Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) and
# wrk (installed from Debian's packages when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/server.sh

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
PRODUCTS=${PRODUCTS:-10000}
PORT=${PORT:-8765}
ADMIN_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=storefront_bench
BENCH_URL="${ADMIN_URL%/*}/$DB"
HOST="demo.bench.test"

if ! command -v wrk >/dev/null; then
  echo "installing wrk"
  (apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null))
fi

read -r -a BINARIES <<<"${COMPARE:-./target/release/storefront}"
if [[ -z "${COMPARE:-}" && "${BUILD:-1}" != 0 ]]; then
  echo "building the release binary"
  cargo build --release -p platform --bin storefront
fi

psql "$ADMIN_URL" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
DATA_DIR=$(mktemp -d)
LOG="$DATA_DIR/server.log"
stop_server() {
  if [[ -n "${SERVER:-}" ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  SERVER=
}
cleanup() {
  stop_server
  rm -rf "$DATA_DIR"
}
trap cleanup EXIT

start_server() { # binary, then its command
  local binary=$1
  shift
  DATABASE_URL="$BENCH_URL" DATA_DIR="$DATA_DIR" LISTEN_ADDR="127.0.0.1:$PORT" \
    PLATFORM_DOMAIN="bench.test" BENCH_BASELINE=true RUST_LOG=warn \
    "$binary" "$@" >"$LOG" 2>&1 &
  SERVER=$!
  wait_for_server /__bench/baseline
}

echo "seeding the demo store with $PRODUCTS products and starting the server"
start_server "${BINARIES[0]}" demo --products "$PRODUCTS"

BASE="http://127.0.0.1:$PORT"
SCHEMA=$(psql "$BENCH_URL" -Atq -c "SELECT schema_name FROM platform.tenants WHERE subdomain = 'demo'")
# As after any bulk load once autovacuum has passed: fresh statistics, no dead rows.
psql "$BENCH_URL" -q -c "SET search_path = $SCHEMA" -c "VACUUM ANALYZE"
# A product deep in the catalog, and a cart holding two lines.
HANDLE=$(psql "$BENCH_URL" -Atq -c "SET search_path = $SCHEMA; SELECT handle FROM products WHERE status = 'active' ORDER BY id OFFSET 5000 LIMIT 1")
COLLECTION=$(psql "$BENCH_URL" -Atq -c "SET search_path = $SCHEMA; SELECT c.handle FROM collections c JOIN collection_products cp ON cp.collection_id = c.id GROUP BY c.handle ORDER BY count(*) DESC LIMIT 1")
JAR="$DATA_DIR/cookies"
curl -sf -o /dev/null -c "$JAR" -b "$JAR" -H "Host: $HOST" -d "product=$HANDLE&quantity=1" "$BASE/cart/add"
SECOND=$(psql "$BENCH_URL" -Atq -c "SET search_path = $SCHEMA; SELECT handle FROM products WHERE status = 'active' ORDER BY id OFFSET 10 LIMIT 1")
curl -sf -o /dev/null -c "$JAR" -b "$JAR" -H "Host: $HOST" -d "product=$SECOND&quantity=1" "$BASE/cart/add"
# The cursor of page 400 of "all products" (newest first, 24 a page).
DEEP=$(psql "$BENCH_URL" -Atq -c "SET search_path = $SCHEMA; SELECT (extract(epoch FROM published_at) * 1000000)::bigint || '~' || id FROM products WHERE status = 'active' ORDER BY published_at DESC, id DESC OFFSET $((399 * 24 - 1)) LIMIT 1")
COOKIE=$(awk '$6 == "sf_session" { print "sf_session=" $7 }' "$JAR")
# Copies of that cart, each with a session of its own, for the row where every request is
# a first look at a cart (a page kept from an earlier look can't answer it): enough for
# 15,000 requests a second, warm-up apart.
SECONDS_PER_PAGE=${DURATION%s}
[[ "$SECONDS_PER_PAGE" =~ ^[0-9]+$ ]] || SECONDS_PER_PAGE=10
CARTS=$(( (SECONDS_PER_PAGE + 2) * 15000 ))
echo "making $CARTS carts like that one"
psql "$BENCH_URL" -q -v ON_ERROR_STOP=1 <<SQL
SET search_path = $SCHEMA;
CREATE TEMP TABLE bench_carts AS
  SELECT g, gen_random_uuid() AS cart_id,
         rtrim(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '=') AS sid
  FROM generate_series(1, $CARTS) g;
INSERT INTO carts (id) SELECT cart_id FROM bench_carts;
INSERT INTO cart_lines (cart_id, variant_id, quantity, unit_price_minor, added_at)
  SELECT b.cart_id, l.variant_id, l.quantity, l.unit_price_minor, l.added_at
  FROM bench_carts b
  CROSS JOIN cart_lines l
  WHERE l.cart_id = (SELECT (data ->> 'cart_id')::uuid FROM platform.sessions WHERE id = '${COOKIE#sf_session=}');
INSERT INTO platform.sessions (id, data, expires_at)
  SELECT sid, jsonb_build_object('cart_id', cart_id), now() + interval '1 day' FROM bench_carts;
\copy (SELECT 'sf_session=' || sid FROM bench_carts WHERE g <= 30000 ORDER BY g) TO '$DATA_DIR/warm-carts'
\copy (SELECT 'sf_session=' || sid FROM bench_carts WHERE g > 30000 ORDER BY g) TO '$DATA_DIR/fresh-carts'
VACUUM ANALYZE carts;
VACUUM ANALYZE cart_lines;
VACUUM ANALYZE platform.sessions;
SQL

run() { # name path [cookie | "fresh carts"]
  local extra=() warm=() measure=()
  if [[ "${3:-}" == "fresh carts" ]]; then
    warm=(-s tests/bench/carts.lua)
    measure=(-s tests/bench/carts.lua)
  elif [[ -n "${3:-}" ]]; then
    extra=(-H "Cookie: $3")
  fi
  # Warm up (connections, caches), then measure.
  CART_COOKIES="$DATA_DIR/warm-carts" \
    wrk -t2 -c"$CONNECTIONS" -d2s -H "Host: $HOST" "${extra[@]}" "${warm[@]}" "$BASE$2" >/dev/null
  local out
  out=$(CART_COOKIES="$DATA_DIR/fresh-carts" \
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST" "${extra[@]}" "${measure[@]}" "$BASE$2")
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

run_all() {
  run baseline /__bench/baseline
  run home /
  run collection "/collections/all"
  run "collection ($COLLECTION)" "/collections/$COLLECTION"
  run "collection page 400" "/collections/all?after=$DEEP"
  run "collection by price" "/collections/all?sort_by=price-ascending"
  run product "/products/$HANDLE"
  run "cart (repeat look)" /cart "$COOKIE"
  run "cart (first look)" /cart "fresh carts"
  run "home (shopper with a cart)" / "$COOKIE"
  run "product (shopper with a cart)" "/products/$HANDLE" "$COOKIE"
}

print_results() { # results of run_all
  local baseline_rps
  baseline_rps=$(awk -F'\t' '$1 == "baseline" { print $2 }' <<<"$1")
  printf '%-32s %12s %10s %10s %12s %8s\n' page "requests/s" p50 p99 "of baseline" non-2xx
  while IFS=$'\t' read -r name rps p50 p99 non2xx; do
    share=$(awk -v a="$rps" -v b="$baseline_rps" 'BEGIN { printf "%.0f%%", 100 * a / b }')
    printf '%-32s %12s %10s %10s %12s %8s\n' "$name" "$rps" "$p50" "$p99" "$share" "$non2xx"
  done <<<"$1"
}

echo
echo "wrk: $CONNECTIONS connections, $DURATION per page, 2 threads; catalog: $PRODUCTS sample products + demo catalog"
if [[ -z "${COMPARE:-}" ]]; then
  print_results "$(run_all)"
  exit 0
fi
# A server starts with nothing kept, so every run's first looks are first looks.
stop_server
for round in $(seq 1 "${ROUNDS:-2}"); do
  order=("${BINARIES[@]}")
  if (( round % 2 == 0 )); then
    for (( i = ${#BINARIES[@]} - 1, j = 0; i >= 0; i--, j++ )); do order[j]=${BINARIES[i]}; done
  fi
  for binary in "${order[@]}"; do
    start_server "$binary" serve
    echo
    echo "== $binary, round $round"
    print_results "$(run_all)"
    stop_server
  done
done
