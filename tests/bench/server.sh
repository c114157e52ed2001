# Sourced by the benchmarks: waits until the server started as $SERVER (log in $LOG)
# answers `path` on $HOST at 127.0.0.1:$PORT, printing the log's last line every half
# minute meanwhile (seeding 100,000 products takes a while); stops the script if the server
# exits first, or if its log stays still for ten minutes without an answer.
wait_for_server() { # path
  local size last_size=-1 still=0 ticks=0
  while true; do
    if curl -sf -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$PORT$1"; then return; fi
    if ! kill -0 "$SERVER" 2>/dev/null; then cat "$LOG"; echo "the server stopped"; exit 1; fi
    size=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
    if [[ "$size" == "$last_size" ]]; then still=$((still + 1)); else still=0; last_size=$size; fi
    if (( still >= 3000 )); then tail -n 5 "$LOG"; echo "the server did not answer"; exit 1; fi
    ticks=$((ticks + 1))
    if (( ticks % 150 == 0 )); then echo "  … $(tail -n 1 "$LOG" 2>/dev/null)"; fi
    sleep 0.2
  done
}

# Makes the database $DB afresh on $ADMIN_URL and a data directory for the run ($DATA_DIR,
# the server's log in $LOG); when the script exits, the server ($SERVER, if any) is
# stopped and the directory removed.
fresh_run() {
  psql "$ADMIN_URL" -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  DATA_DIR=$(mktemp -d)
  LOG="$DATA_DIR/server.log"
  trap end_run EXIT
}

end_run() {
  if [[ -n "${SERVER:-}" ]]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$DATA_DIR"
}
