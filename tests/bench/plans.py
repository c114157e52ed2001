"""Reads PostgreSQL log lines with auto_explain plans on standard input and prints the last
plan of each statement, flagging sorts of more than 1,000 rows and sequential scans of
catalog tables (what no page's cold path may do). Used by explain.sh."""

import re
import sys

CATALOG = ("products", "variants", "collection_products", "collections", "order_lines", "orders")

entries = []
current = None
for line in sys.stdin:
    if "duration:" in line and "plan:" in line:
        current = {"duration": re.search(r"duration: ([0-9.]+) ms", line).group(1), "lines": []}
        entries.append(current)
        continue
    if current is None:
        continue
    if re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line):
        # Another log line: the plan ended.
        current = None
        continue
    current["lines"].append(line.rstrip("\n"))

last = {}
for e in entries:
    text = "\n".join(e["lines"])
    m = re.search(r"Query Text: (.*)", text)
    query = m.group(1) if m else "?"
    # A read-lane message ("SET LOCAL ...; SET ...; [PREPARE ...;] EXECUTE name(...)") is
    # logged with the whole message as its text: its plan is the prepared statement's.
    # The same statement with other arguments, or in another store, is the same statement.
    execute = re.search(r"EXECUTE (\w+)\(", query)
    if execute:
        key = "EXECUTE " + re.sub(r"__t_[a-z0-9]+$", "", execute.group(1))
    elif query.startswith(("SET ", "BEGIN", "COMMIT", "ROLLBACK")):
        continue
    else:
        key = " ".join(query.split())
    last[key] = e

flagged = 0
for key, e in last.items():
    plan = [l for l in e["lines"] if "Query Text" not in l]
    warnings = []
    for l in plan:
        sort = re.search(r"Sort .*rows=(\d+)", l)
        if sort and "Incremental" not in l and int(sort.group(1)) > 1000:
            warnings.append("sorts %s rows" % sort.group(1))
        seq = re.search(r"Seq Scan on (\w+).*rows=(\d+)", l)
        if seq and seq.group(1) in CATALOG and int(seq.group(2)) > 1000:
            warnings.append("scans all of %s" % seq.group(1))
    flagged += bool(warnings)
    print("=" * 100)
    print("%s ms  %s%s" % (e["duration"], key[:300], ("   <<< " + "; ".join(warnings)) if warnings else ""))
    for l in plan:
        print("   " + l.strip("\t").replace("\t", "  ")[:200])
print("=" * 100)
print("%d statements, %d flagged" % (len(last), flagged))
