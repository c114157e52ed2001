#!/usr/bin/env bash
# Abuse benchmark: how much of a shopper's product page survives anonymous clients posting
# to every unauthenticated form at full speed (sign-in, password reset with bogus tokens,
# signup, store lookup, invitations, customer accounts, contact, operator sign-in).
#
# Measures the product page (wrk, CONNECTIONS connections, the page cache off so every view
# reads the database) alone, then again while ABUSERS connections post those forms as fast
# as they are answered, each with a session cookie and CSRF token fetched first, as an
# attacker would. Prints both, their ratio (target: at least 80 %), and what the abuse got
# back (mostly 429s, answered from memory).
#
#   bash tests/bench/abuse.sh                  # builds the release binary first
#   BUILD=0 DURATION=20s ABUSERS=64 bash tests/bench/abuse.sh
#
# Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) and
# wrk (installed from Debian's packages when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/bench/server.sh

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
ABUSERS=${ABUSERS:-64}
PORT=${PORT:-8766}
ADMIN_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=storefront_abuse
BENCH_URL="${ADMIN_URL%/*}/$DB"
HOST="demo.bench.test"
PLATFORM="bench.test"

if ! command -v wrk >/dev/null; then
  echo "installing wrk"
  (apt-get install -y wrk >/dev/null 2>&1 || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null))
fi
BINARY=./target/release/storefront
if [[ "${BUILD:-1}" != 0 ]]; then
  echo "building the release binary"
  cargo build --release -p platform --bin storefront
fi

fresh_run

echo "seeding the demo store and starting the server"
DATABASE_URL="$BENCH_URL" DATA_DIR="$DATA_DIR" LISTEN_ADDR="127.0.0.1:$PORT" \
  PLATFORM_DOMAIN="$PLATFORM" PAGE_CACHE_MB=0 RUST_LOG=warn \
  "$BINARY" demo --products 1000 >"$LOG" 2>&1 &
SERVER=$!
wait_for_server /
BASE="http://127.0.0.1:$PORT"
SCHEMA=$(psql "$BENCH_URL" -Atq -c "SELECT schema_name FROM platform.tenants WHERE subdomain = 'demo'")
psql "$BENCH_URL" -q -c "SET search_path = $SCHEMA" -c "UPDATE settings SET customer_accounts = 'optional'" -c "VACUUM ANALYZE"
HANDLE=$(psql "$BENCH_URL" -Atq -c "SET search_path = $SCHEMA; SELECT handle FROM products WHERE status = 'active' ORDER BY id OFFSET 500 LIMIT 1")
OWNER=$(psql "$BENCH_URL" -Atq -c "SELECT u.email FROM platform.users u JOIN platform.memberships m ON m.user_id = u.id JOIN platform.tenants t ON t.id = m.tenant_id WHERE t.subdomain = 'demo' AND m.role = 'owner'")

# One line per abusive request: method, host, path, cookie, body. The session and token
# come from a GET of the form's page, as a browser's (or an attacker's) would.
REQUESTS="$DATA_DIR/requests"
: >"$REQUESTS"
add() { # host, form page, path posted, body (without _csrf)
  local jar="$DATA_DIR/jar" page token cookie
  rm -f "$jar"
  page=$(curl -s -c "$jar" -H "Host: $1" "$BASE$2")
  # Shopper forms without a session (contact, cart) carry no token.
  token=$( (grep -o 'name="_csrf" value="[^"]*"' <<<"$page" || true) | head -n 1 | sed 's/.*value="//; s/"$//')
  cookie=$(awk '$6 == "sf_session" { print "sf_session=" $7 }' "$jar" 2>/dev/null || true)
  printf 'POST\t%s\t%s\t%s\t_csrf=%s&%s\n' "$1" "$3" "$cookie" "$token" "$4" >>"$REQUESTS"
}
add "$HOST" /admin/login /admin/login "email=$OWNER&password=guess-$RANDOM"
add "$HOST" /admin/login /admin/login "email=nobody%40example.com&password=guess"
add "$HOST" /admin/password/forgot /admin/password/forgot "email=$OWNER"
add "$HOST" /admin/password/forgot /admin/password/reset/not-a-real-token "password=a+new+password+1"
add "$HOST" /admin/login /admin/invitations/not-a-real-token "password=a+new+password+1"
add "$HOST" /account/login /account/login "email=someone%40example.com&password=guess"
add "$HOST" /account/register /account/register "first_name=A&last_name=B&email=new$RANDOM%40example.com&password=a+new+password+1"
add "$HOST" /contact /contact "name=Spam&email=spam%40example.com&body=Buy+now"
add "$PLATFORM" /signup /signup "store_name=Spam&subdomain=spam$RANDOM&email=spam%40example.com&password=a+new+password+1"
add "$PLATFORM" /login /login "email=$OWNER"
add "$PLATFORM" /operator/login /operator/login "email=ops%40example.com&password=guess"
echo "abusing $(wc -l <"$REQUESTS") forms; each answers a first post with:"
while IFS=$'\t' read -r method host path cookie body; do
  status=$(curl -s -o /dev/null -w '%{http_code}' -X "$method" -H "Host: $host" -H "Origin: http://$host" \
    -H "Cookie: $cookie" -H "Content-Type: application/x-www-form-urlencoded" --data "$body" "$BASE$path")
  printf '  %s %s%s\n' "$status" "$host" "$path"
done <"$REQUESTS"

shopper() {
  wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Host: $HOST" "$BASE/products/$HANDLE"
}
rps() { awk '/Requests\/sec/ { print $2 }'; }
p99() { awk '$1 == "99%" { print $2 }'; }

wrk -t1 -c"$CONNECTIONS" -d2s -H "Host: $HOST" "$BASE/products/$HANDLE" >/dev/null
alone=$(shopper)
ABUSE_REQUESTS="$REQUESTS" wrk -t1 -c"$ABUSERS" -d"$(( ${DURATION%s} + 4 ))s" -s tests/bench/abuse.lua "$BASE/" >"$DATA_DIR/abuse.out" &
ABUSE=$!
sleep 2
abused=$(shopper)
wait "$ABUSE"

a=$(rps <<<"$alone"); b=$(rps <<<"$abused")
printf '%-34s %12s %10s\n' "product page" "requests/s" p99
printf '%-34s %12s %10s\n' "alone" "$a" "$(p99 <<<"$alone")"
printf '%-34s %12s %10s\n' "while $ABUSERS clients abuse the forms" "$b" "$(p99 <<<"$abused")"
awk -v a="$a" -v b="$b" 'BEGIN { printf "kept %.0f %% of its requests/s (target: at least 80 %%)\n", 100 * b / a }'
echo "abuse: $(rps <"$DATA_DIR/abuse.out") requests/s; $(grep 'abuse answered' "$DATA_DIR/abuse.out")"
