#!/usr/bin/env bash
# Storefront speed benchmark: builds the release binary, seeds the demo store with
# 10,000 extra products, and loads the home, collection, product and cart pages with wrk
# (64 connections), next to a baseline handler of the same binary (one SELECT, a tiny
# template). Prints requests/s and p50/p99 latency per page, and each page's share of the
# baseline's requests/s.
#
# The warm rows ask for one page over and over. The cold rows ask for a different page on
# every request, as real traffic does: a random product of the whole catalog, a random
# page of a random collection, varied search queries (single words with one hit to
# thousands, pairs, whole titles, typos, words no product has), random customers' account
# pages, a crawler walking every page the sitemaps list, and the home and product pages of
# random stores among STORES small ones. They run with the page cache on and again with
# it off (PAGE_CACHE_MB=0), each next to a baseline of the same server. ROWS picks the
# sections (default "warm cold cold-uncached").
#
#   bash tests/bench/storefront.sh            # DATABASE_URL's server, a fresh database
#   DURATION=30s PRODUCTS=10000 bash tests/bench/storefront.sh
#   COMPARE="/tmp/before ./target/release/storefront" ROUNDS=2 bash tests/bench/storefront.sh
#   LISTS=/tmp/lists ROWS=cold-uncached bash tests/bench/storefront.sh   # keeps the page lists
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

fresh_run
stop_server() {
  if [[ -n "${SERVER:-}" ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  SERVER=
}

start_server() { # binary, then its command; PAGE_CACHE_MB from the environment
  local binary=$1
  shift
  DATABASE_URL="$BENCH_URL" DATA_DIR="$DATA_DIR" LISTEN_ADDR="127.0.0.1:$PORT" \
    PLATFORM_DOMAIN="bench.test" BENCH_BASELINE=true RUST_LOG=warn \
    PAGE_CACHE_MB="${PAGE_CACHE_MB:-64}" \
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
  elif [[ "${3:-}" == paths:* ]]; then
    # A different page on every request, from a list (see paths.lua); the warm-up walks
    # the list's other end, so the pages measured were not just seen.
    warm=(-s tests/bench/paths.lua)
    measure=(-s tests/bench/paths.lua)
    export PATHS="$LISTS/${3#paths:}" SHUFFLE=${4:-1}
  elif [[ -n "${3:-}" ]]; then
    extra=(-H "Cookie: $3")
  fi
  # Warm up (connections, caches), then measure.
  CART_COOKIES="$DATA_DIR/warm-carts" SEED=2 \
    wrk -t2 -c"$CONNECTIONS" -d2s -H "Host: $HOST" "${extra[@]}" "${warm[@]}" "$BASE$2" >/dev/null
  local out
  out=$(CART_COOKIES="$DATA_DIR/fresh-carts" SEED=1 \
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST" "${extra[@]}" "${measure[@]}" "$BASE$2")
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

# Lists of pages for the cold rows, one "host<TAB>path[<TAB>cookie]" a line, written to
# LISTS (a directory kept after the run, for measuring by hand) or the run's own directory.
STORES=${STORES:-10}
LISTS=${LISTS:-$DATA_DIR}
mkdir -p "$LISTS"
ROWS=${ROWS:-warm cold cold-uncached}
echo "making $STORES small stores and the lists of pages for the cold rows"
for i in $(seq 1 "$STORES"); do
  DATABASE_URL="$BENCH_URL" DATA_DIR="$DATA_DIR" RUST_LOG=warn "${BINARIES[0]}" tenant create \
    --subdomain "small$i" --name "Small Store $i" --owner-email "owner$i@small.example" \
    --owner-password "a small store's password" >/dev/null
  DATABASE_URL="$BENCH_URL" DATA_DIR="$DATA_DIR" RUST_LOG=warn "${BINARIES[0]}" import products \
    --tenant "small$i" tests/fixtures/shopify_products.csv >/dev/null 2>&1 || true # one row is broken on purpose
done
in_store() { psql "$BENCH_URL" -Atq -v ON_ERROR_STOP=1 -c "SET search_path = $SCHEMA" -c "$1"; }
in_store "SELECT '$HOST' || E'\t/products/' || handle FROM products WHERE status = 'active'" >"$LISTS/products"
# The first page of every collection, and every page of "all products" (its cursors).
in_store "SELECT '$HOST' || E'\t/collections/' || handle FROM collections
          UNION ALL
          SELECT '$HOST' || E'\t/collections/all?after=' || (extract(epoch FROM published_at) * 1000000)::bigint || '~' || id
          FROM (SELECT published_at, id, row_number() OVER (ORDER BY published_at DESC, id DESC) AS n
                FROM products WHERE status = 'active') p WHERE n % 24 = 0" >"$LISTS/collection-pages"
# Queries as shoppers type them: words of titles (a few hits to thousands), two words,
# whole titles (one hit), the same with a letter dropped or doubled (typos), and words no
# product has.
in_store "SELECT setseed(0.42);
          WITH words AS (SELECT DISTINCT lower(w) AS w FROM products, regexp_split_to_table(title, '[^A-Za-z0-9]+') w
                         WHERE length(w) > 3),
               titles AS (SELECT lower(regexp_replace(title, '[^A-Za-z0-9]+', ' ', 'g')) AS t
                          FROM products WHERE status = 'active' ORDER BY random() LIMIT 150),
               queries AS (
                 SELECT w AS q FROM words
                 UNION ALL SELECT t FROM titles
                 UNION ALL SELECT split_part(t, ' ', 1) || ' ' || split_part(t, ' ', 2) FROM titles
                 UNION ALL SELECT overlay(w PLACING '' FROM 1 + (length(w) / 2) FOR 1) FROM words
                 UNION ALL SELECT w || substr(w, length(w)) FROM words
                 UNION ALL SELECT 'zq' || w FROM words LIMIT 2000)
          SELECT '$HOST' || E'\t/search?q=' || replace(trim(q), ' ', '+') FROM queries WHERE trim(q) <> ''" \
  | grep -v '^$' >"$LISTS/searches" || true
# Signed-in customers, each with a session of their own.
psql "$BENCH_URL" -q -v ON_ERROR_STOP=1 <<SQL
SET search_path = $SCHEMA;
UPDATE settings SET customer_accounts = 'optional';
CREATE TEMP TABLE bench_customers AS
  SELECT gen_random_uuid() AS id, g,
         rtrim(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), '=') AS sid
  FROM generate_series(1, 5000) g;
INSERT INTO customers (id, email, first_name, last_name)
  SELECT id, 'shopper' || g || '@bench.example', 'Shopper', 'Number ' || g FROM bench_customers;
INSERT INTO customer_addresses (id, customer_id, address1, city, country, is_default)
  SELECT gen_random_uuid(), id, g || ' Main Street', 'Springfield', 'US', true FROM bench_customers;
INSERT INTO platform.sessions (id, data, expires_at)
  SELECT sid, jsonb_build_object('customer_id', c.id, 'customer_tenant', t.id), now() + interval '1 day'
  FROM bench_customers c, platform.tenants t WHERE t.subdomain = 'demo';
-- Not \copy: its text format writes a tab as the two characters \t.
\pset format unaligned
\pset tuples_only on
\o $LISTS/accounts
SELECT '$HOST' || E'\t' || (CASE WHEN g % 2 = 0 THEN '/account' ELSE '/account/addresses' END) || E'\tsf_session=' || sid FROM bench_customers;
\o
VACUUM ANALYZE customers;
VACUUM ANALYZE customer_addresses;
VACUUM ANALYZE platform.sessions;
SQL
# What a crawler finds: every address the sitemaps list, in their order.
crawl_list() {
  local sitemap loc
  for sitemap in $(curl -sf -H "Host: $HOST" "$BASE/sitemap.xml" | grep -o '<loc>[^<]*</loc>' | sed 's/<[^>]*>//g'); do
    curl -sf -H "Host: $HOST" "$BASE/${sitemap#http*://*/}" | grep -o '<loc>[^<]*</loc>' | sed 's/<[^>]*>//g; s/&amp;/\&/g' |
      while read -r loc; do printf '%s\t/%s\n' "$HOST" "${loc#http*://*/}"; done
  done
}
crawl_list >"$LISTS/crawl"
for i in $(seq 1 "$STORES"); do
  printf 'small%s.bench.test\t/\n' "$i"
done >"$LISTS/stores-home"
psql "$BENCH_URL" -Atq -c "SELECT string_agg(format('SELECT %L || E''\t/products/'' || handle FROM %I.products WHERE status = ''active''', subdomain || '.bench.test', schema_name), ' UNION ALL ') FROM platform.tenants WHERE subdomain LIKE 'small%'" |
  psql "$BENCH_URL" -Atq >"$LISTS/stores-products"
for list in products collection-pages searches accounts crawl stores-home stores-products; do
  printf '  %-18s %6s pages\n' "$list" "$(wc -l <"$LISTS/$list")"
done

run_warm() {
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

run_cold() {
  run baseline /__bench/baseline
  run "random product" / paths:products
  run "random collection page" / paths:collection-pages
  run "search, varied queries" / paths:searches
  run "random account page" / paths:accounts
  run "crawler (sitemap order)" / paths:crawl 0
  run "random store: home" / paths:stores-home
  run "random store: product" / paths:stores-products
}

# The sections ROWS asks for, each on a server of its own (started with nothing kept).
run_all() { # binary
  local section
  for section in $ROWS; do
    stop_server
    case $section in
      warm) PAGE_CACHE_MB=64 start_server "$1" serve; echo "== warm: one page again and again" >&2; print_results "$(run_warm)" ;;
      cold) PAGE_CACHE_MB=64 start_server "$1" serve; echo "== cold: a different page each request, page cache on" >&2; print_results "$(run_cold)" ;;
      cold-uncached) PAGE_CACHE_MB=0 start_server "$1" serve; echo "== cold: page cache off (PAGE_CACHE_MB=0)" >&2; print_results "$(run_cold)" ;;
    esac
  done
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
  run_all "${BINARIES[0]}" 2>&1
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
    echo
    echo "=== $binary, round $round"
    run_all "$binary" 2>&1
    stop_server
  done
done
