# Sourced by the benchmarks: waits until the server started as $SERVER (log in $LOG)
# answers `path` on $HOST at 127.0.0.1:$PORT; stops the script if it exits first or does
# not answer within ten minutes.
wait_for_server() { # path
  for _ in $(seq 1 3000); do
    if curl -sf -o /dev/null -H "Host: $HOST" "http://127.0.0.1:$PORT$1"; then return; fi
    if ! kill -0 "$SERVER" 2>/dev/null; then cat "$LOG"; echo "the server stopped"; exit 1; fi
    sleep 0.2
  done
  echo "the server did not answer"
  exit 1
}
