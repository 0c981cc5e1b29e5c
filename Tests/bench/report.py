#!/usr/bin/env python3
"""Turns the figures bench.sh measured into the targets, a table and .build/bench/latest.json.

    report.py RESULTS JSON MODE LARGE [SOAK [ONLY]]

RESULTS holds one `key value` line per measured figure and `note ...` lines. Only
ratios of two measured figures (and the combined ceiling, from the two measured
ceilings) are computed here; nothing is estimated. A figure that was not measured prints
as "missing" and is null in the JSON. SOAK is 1 when the run included the soak; ONLY
names the one part run (bench.sh --only), and the figures of the others are "not run".
"""
import datetime
import json
import os
import platform
import re
import subprocess
import sys

results_path, json_path, mode, large = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
soak = len(sys.argv) > 5 and sys.argv[5] == "1"
only = sys.argv[6] if len(sys.argv) > 6 else ""

figures, notes = {}, []
with open(results_path) as f:
    for line in f:
        key, _, value = line.rstrip("\n").partition(" ")
        if key == "note":
            notes.append(value)
        elif value:
            try:
                figures[key] = int(value)
            except ValueError:
                try:
                    figures[key] = float(value)
                except ValueError:
                    notes.append(f"{key}: not a number: {value}")


def ratio(a, b, digits=3):
    if figures.get(a) is not None and figures.get(b):
        return round(figures[a] / figures[b], digits)
    return None


derived = {}
# The drain's ceiling: an HTTP sink and a database that each take their share of the time
# of every request, 1 / (1/HTTP + 1/DB), from the two measured ceilings.
if figures.get("ceiling_http_rps") and figures.get("ceiling_db_rows_per_s"):
    derived["ceiling_combined_rps"] = round(1 / (1 / figures["ceiling_http_rps"] + 1 / figures["ceiling_db_rows_per_s"]))
figures.update(derived)
derived = {
    "drain_ratio_to_ceiling": ratio("drain_rps", "ceiling_combined_rps"),
    "enqueue_ratio": ratio("enqueue_rps", "plain_insert_rps"),
    "enqueue_batch_ratio": ratio("enqueue_batch_rps", "plain_insert_batch_rps"),
    "steady_arrival_ratio": ratio("steady_arrival_rps", "steady_offered_rps"),
    "steady_cpu_ratio": ratio("steady_pg_cpu_us_per_req", "steady_plain_pg_cpu_us_per_row"),
    "longtx_arrival_ratio": ratio("longtx_arrival_rps", "longtx_offered_rps"),
    "longtx_cpu_ratio": ratio("longtx_pg_cpu_us_per_req", "steady_pg_cpu_us_per_req"),
    "overload_arrival_ratio": ratio("overload_arrival_rps", "drain_rps"),
    "overload_delivered_ratio": ratio("overload_delivered_rps", "drain_rps"),
    "overload_tail_ratio": ratio("overload_tail_rps", "drain_rps"),
    "scale2_ratio": ratio("scale2_rps", "drain_rps"),
    "scale4_ratio": ratio("scale4_rps", "drain_rps"),
    "metrics_drain_ratio": ratio("metrics_on_rps", "metrics_off_rps"),
    "metrics_worker_cpu_ratio": ratio("metrics_on_worker_cpu_us_per_req", "metrics_off_worker_cpu_us_per_req"),
    "isolation_p99_ratio": ratio("isolation_bad_latency_p99_ms", "isolation_base_latency_p99_ms"),
    "signing_signed_worker_ratio": ratio("signing_signed_worker_cpu_us_per_req", "signing_plain_worker_cpu_us_per_req"),
    "signing_header_worker_ratio": ratio("signing_header_worker_cpu_us_per_req", "signing_plain_worker_cpu_us_per_req"),
    "signing_signed_pg_ratio": ratio("signing_signed_pg_cpu_us_per_req", "signing_plain_pg_cpu_us_per_req"),
    "signing_header_pg_ratio": ratio("signing_header_pg_cpu_us_per_req", "signing_plain_pg_cpu_us_per_req"),
    "hooks_pg_ratio": ratio("hooks_noop_pg_cpu_us_per_req", "hooks_plain_pg_cpu_us_per_req"),
    "hooks_claim_report_100_ratio": ratio("hooks_noop_claim_report_100_ms", "hooks_plain_claim_report_100_ms"),
    "fanout_pg_ratio": ratio("fanout_publish_pg_cpu_us_per_req", "fanout_many_pg_cpu_us_per_req"),
    "fanout_100_ratio": ratio("fanout_publish_100_ms", "fanout_many_100_ms"),
}
biggest = "claim_ms_10m" if "claim_ms_10m" in figures else "claim_ms_1m" if "claim_ms_1m" in figures else "claim_ms_100k"
derived["claim_growth"] = ratio(biggest, "claim_ms_10k", 2)

# The soak: per-minute figures, the first and last minute, the first and largest sizes.
minutes = sorted({int(m.group(1)) for k in figures if (m := re.match(r"soak_minute_(\d+)_", k))})
if minutes:
    def minute(n, what):
        return figures.get(f"soak_minute_{n}_{what}")
    first, last = minutes[0], minutes[-1]
    derived["soak_first_minute_rps"] = minute(first, "delivered_rps")
    derived["soak_last_minute_rps"] = minute(last, "delivered_rps")
    for what in ("request_bytes", "history_bytes", "worker_rss_mib"):
        values = [minute(n, what) for n in minutes if minute(n, what) is not None]
        if values:
            derived[f"soak_{what}_first"] = values[0]
            derived[f"soak_{what}_max"] = max(values)
    figures.update({k: v for k, v in derived.items() if v is not None})
    derived["soak_last_to_first"] = ratio("soak_last_minute_rps", "soak_first_minute_rps")
    derived["soak_request_growth"] = ratio("soak_request_bytes_max", "soak_request_bytes_first", 2)
figures.update({k: v for k, v in derived.items() if v is not None})


def get(key):
    return figures.get(key)


# The targets of the speed issue, in its order: label, figure, unit, target, check.
TARGETS = [
    ("1. Steady 1,000/s: arrivals reached (of offered)", "steady_arrival_ratio", "", ">= 0.95",
     lambda v: v >= 0.95),
    ("1. Steady: COMMIT to arrival, p50", "steady_latency_p50_ms", "ms", "<= 2", lambda v: v <= 2),
    ("1. Steady: COMMIT to arrival, p99", "steady_latency_p99_ms", "ms", "<= 10", lambda v: v <= 10),
    ("1. Steady: Postgres CPU per request / plain INSERT", "steady_cpu_ratio", "x", "<= 1.5", lambda v: v <= 1.5),
    ("2. Enqueue 1 per tx, 8 clients / plain INSERT", "enqueue_ratio", "x", ">= 0.8", lambda v: v >= 0.8),
    ("2. enqueue_many of 1,000 / INSERT of 1,000", "enqueue_batch_ratio", "x", ">= 0.8", lambda v: v >= 0.8),
    ("3. Drain, 1 default worker: delivered", "drain_rps", "req/s", ">= 25,000", lambda v: v >= 25000),
    ("3. Drain / combined ceiling 1/(1/HTTP+1/DB)", "drain_ratio_to_ceiling", "x", ">= 0.6", lambda v: v >= 0.6),
    ("4. Long transaction: arrivals reached (of offered)", "longtx_arrival_ratio", "", ">= 0.95",
     lambda v: v >= 0.95),
    ("4. Long transaction: COMMIT to arrival, p99", "longtx_latency_p99_ms", "ms", "< 1,000", lambda v: v < 1000),
    ("4. Long transaction: backlog at the end of the hold", "longtx_backlog_at_end", "req",
     f"<= 2 s ({2 * get('longtx_offered_rps'):,})" if get("longtx_offered_rps") else "<= 2 s of arrivals",
     lambda v: get("longtx_offered_rps") is not None and v <= 2 * get("longtx_offered_rps")),
    ("4. Long transaction: Postgres CPU per request / (1)", "longtx_cpu_ratio", "x", "<= 2", lambda v: v <= 2),
    ("5. Overload 1.25x: delivered / drain rate", "overload_delivered_ratio", "x", ">= 0.9", lambda v: v >= 0.9),
    ("5. Overload: tail drain / drain rate", "overload_tail_ratio", "x", ">= 0.9", lambda v: v >= 0.9),
    ("6. Scale: 2 workers / 1", "scale2_ratio", "x", ">= 1", lambda v: v >= 1),
    ("6. Scale: 4 workers / 1", "scale4_ratio", "x", ">= 1", lambda v: v >= 1),
    ("7. Soak: last minute / first minute", "soak_last_to_first", "x", "0.9 - 1.1", lambda v: 0.9 <= v <= 1.1),
    ("7. Soak: httpq.request size, largest / first", "soak_request_growth", "x", "<= 2", lambda v: v <= 2),
    ("8. Claim of 100: largest backlog / 10,000", "claim_growth", "x", "<= 1.5", lambda v: v <= 1.5),
    ("8. Worker RSS with 1,000 in flight", "worker_rss_mib_1000_inflight", "MiB", "< 64", lambda v: v < 64),
    ("8. Fairness: 10 next to a big channel, done after", "fairness_small_drain_ms", "ms", "< big / 10",
     lambda v: get("fairness_big_drain_s") is not None and v < 1000 * get("fairness_big_drain_s") / 10),
    ("8. Rate limit 50/s: delivered", "rate_limited_delivered_rps", "req/s", "50 +- 5", lambda v: 45 <= v <= 55),
    ("9. Isolation: healthy p99 with bad channels / without", "isolation_p99_ratio", "x", "<= 2", lambda v: v <= 2),
    ("9. Rate limit 10/s under 429s: sent", "isolation_throttled_rps", "req/s", "10 +- 5 %",
     lambda v: get("isolation_throttled_limit_rps") is not None
     and abs(v - get("isolation_throttled_limit_rps")) <= 0.05 * get("isolation_throttled_limit_rps")),
]
SOAK_KEYS = {"soak_last_to_first", "soak_request_growth"}

REQUIRED = ["ceiling_http_rps", "ceiling_db_rows_per_s", "ceiling_combined_rps", "plain_insert_rps", "enqueue_rps",
            "plain_insert_batch_rps", "enqueue_batch_rps", "drain_rps", "drain_pg_cpu_us_per_req",
            "steady_arrival_rps", "steady_pg_cpu_us_per_req", "steady_plain_pg_cpu_us_per_row",
            "longtx_arrival_rps", "longtx_latency_p99_ms", "longtx_backlog_at_end", "longtx_pg_cpu_us_per_req",
            "overload_delivered_rps", "overload_tail_rps", "scale2_rps", "scale4_rps",
            "claim_ms_10k", "claim_ms_1m" if mode != "quick" else "claim_ms_100k"]
REQUIRED += ["isolation_base_latency_p99_ms", "isolation_bad_latency_p99_ms"]
REQUIRED += [key for _, key, *_ in TARGETS if key not in SOAK_KEYS or soak]

# Which part of bench.sh measures a figure, by the start of its key.
PARTS = [("ceiling_", "ceilings"), ("plain_insert", "enqueue"), ("enqueue_", "enqueue"), ("drain_", "drain"),
         ("worker_db_", "drain"), ("scale", "scale"), ("metrics_", "metrics"), ("signing_", "signing"), ("hooks_", "hooks"), ("fanout_", "fanout"), ("overload_", "overload"), ("steady_", "steady"),
         ("longtx_", "longtx"), ("footprint_", "footprint"), ("worker_", "footprint"), ("fairness_", "fairness"),
         ("rate_limited_", "fairness"), ("isolation_", "isolation"), ("claim_", "backlog"), ("maint_", "maintenance"),
         ("soak_", "soak")]


def ran(key):
    """Whether the part that measures key was in this run."""
    return not only or next((part for start, part in PARTS if key.startswith(start)), None) == only


REQUIRED = [key for key in dict.fromkeys(REQUIRED) if ran(key)]


def drain_rows(key, what):
    return [
        (f"{key}_rps", f"{what}: delivered", "req/s"),
        (f"{key}_s", "  in", "s"),
        (f"{key}_pg_cpu_us_per_req", "  Postgres CPU per delivered request", "us"),
        (f"{key}_worker_cpu_us_per_req", "  worker CPU per delivered request", "us"),
        (f"{key}_cpu_postgres_s", "  CPU during the drain: Postgres", "s"),
        (f"{key}_cpu_worker_s", "  CPU during the drain: worker(s)", "s"),
        (f"{key}_cpu_nginx_s", "  CPU during the drain: nginx", "s"),
        (f"{key}_machine_busy_pct", "  machine busy during the drain", "%"),
        (f"{key}_worker_rss_mib", "  peak worker RSS", "MiB"),
    ]


def paced_rows(tag, offered="Offered, 1 per transaction"):
    return [
        (f"{tag}_offered_rps", offered, "req/s"),
        (f"{tag}_sessions", "  sessions", ""),
        (f"{tag}_arrival_rps", "  achieved (committed / time to the last COMMIT)", "req/s"),
        (f"{tag}_late_p99_ms", "  send later than its schedule: p99", "ms"),
        (f"{tag}_late_max_ms", "  send later than its schedule: max", "ms"),
        (f"{tag}_committed", "  committed", "req"),
        (f"{tag}_errors", "  failed transactions", ""),
        (f"{tag}_delivered", "  arrived at the receiver", "req"),
        (f"{tag}_duplicates", "  arrived more than once", "req"),
        (f"{tag}_latency_p50_ms", "  COMMIT returned to arrival: p50", "ms"),
        (f"{tag}_latency_p99_ms", "  p99", "ms"),
        (f"{tag}_latency_max_ms", "  max", "ms"),
        (f"{tag}_latency_min_ms", "  min", "ms"),
        (f"{tag}_backlog_max", "  committed, not yet arrived: most (sampled 2/s)", "req"),
        (f"{tag}_backlog_at_end", "  committed, not yet arrived: at the last COMMIT", "req"),
        (f"{tag}_pg_cpu_us_per_req", "  Postgres CPU per request", "us"),
        (f"{tag}_worker_cpu_us_per_req", "  worker CPU per request", "us"),
        (f"{tag}_driver_cpu_us_per_req", "  driver CPU per request (drive.py, not in the figures)", "us"),
        (f"{tag}_receiver_cpu_us_per_req", "  receiver CPU per request (receiver.py, not in the figures)", "us"),
    ]


ROWS = [
    ("Ceilings", None, None),
    ("ceiling_http_rps", "HTTP sink: nginx, wrk keep-alive POSTs", "req/s"),
    ("ceiling_db_rows_per_s", "Database: pgbench claim 100 + delete, 1 client", "rows/s"),
    ("ceiling_combined_rps", "Combined: 1 / (1/HTTP + 1/DB)", "req/s"),
    ("Enqueue (pgbench -M prepared, -T; plain = the same rows into bench.plain)", None, None),
    ("plain_insert_rps", "Plain one-row INSERT, 1 per transaction, 8 clients", "rows/s"),
    ("enqueue_rps", "httpq.enqueue, 1 per transaction, 8 clients", "req/s"),
    ("enqueue_ratio", "  httpq / plain", "x"),
    ("plain_insert_batch_rps", "Plain INSERT of 1,000 rows per transaction, 2 clients", "rows/s"),
    ("enqueue_batch_rps", "httpq.enqueue_many of 1,000, 2 clients", "req/s"),
    ("enqueue_batch_ratio", "  httpq / plain", "x"),
    ("Drain of a backlog (workers with their defaults, to nginx)", None, None),
    *drain_rows("drain", "1 worker"),
    ("drain_ratio_to_ceiling", "  ratio to the combined ceiling", "x"),
    ("worker_db_connections", "  database connections of the worker", ""),
    *drain_rows("scale2", "2 workers"),
    ("scale2_ratio", "  ratio to 1 worker", "x"),
    *drain_rows("scale4", "4 workers"),
    ("scale4_ratio", "  ratio to 1 worker", "x"),
    ("Metrics: the backlog, 1 worker, without --listen and with /metrics scraped every second, twice each", None, None),
    ("metrics_off_rps", "Without --listen: delivered", "req/s"),
    ("metrics_off_worker_cpu_us_per_req", "  worker CPU per delivered request", "us"),
    ("metrics_on_rps", "With --listen, scraped every second: delivered", "req/s"),
    ("metrics_drain_ratio", "  / without", "x"),
    ("metrics_on_worker_cpu_us_per_req", "  worker CPU per delivered request", "us"),
    ("metrics_worker_cpu_ratio", "  / without", "x"),
    ("metrics_scrapes_ok", "  scrapes answered 200", ""),
    ("Signing and secrets: half the backlog, 1 worker, each variant twice", None, None),
    ("signing_plain_worker_cpu_us_per_req", "Plain channel: worker CPU per request", "us"),
    ("signing_plain_pg_cpu_us_per_req", "  Postgres CPU per request", "us"),
    ("signing_signed_worker_cpu_us_per_req", "Signed (one whsec_ key): worker CPU per request", "us"),
    ("signing_signed_worker_ratio", "  / plain", "x"),
    ("signing_signed_pg_cpu_us_per_req", "  Postgres CPU per request", "us"),
    ("signing_signed_pg_ratio", "  / plain", "x"),
    ("signing_header_worker_cpu_us_per_req", "Secret header: worker CPU per request", "us"),
    ("signing_header_worker_ratio", "  / plain", "x"),
    ("signing_header_pg_cpu_us_per_req", "  Postgres CPU per request", "us"),
    ("signing_header_pg_ratio", "  / plain", "x"),
    ("Completion hooks: claim and report of 100 in one statement, no worker, each variant twice", None, None),
    ("hooks_plain_pg_cpu_us_per_req", "No hook: Postgres CPU per request", "us"),
    ("hooks_plain_claim_report_100_ms", "  a claim and report of 100", "ms"),
    ("hooks_noop_pg_cpu_us_per_req", "A hook that does nothing: Postgres CPU per request", "us"),
    ("hooks_pg_ratio", "  / no hook", "x"),
    ("hooks_noop_claim_report_100_ms", "  a claim and report of 100", "ms"),
    ("hooks_claim_report_100_ratio", "  / no hook", "x"),
    ("Fan-out: 100 requests per call, one call per transaction, each variant twice", None, None),
    ("fanout_many_pg_cpu_us_per_req", "enqueue_many of 100: Postgres CPU per request", "us"),
    ("fanout_many_100_ms", "  a call", "ms"),
    ("fanout_publish_pg_cpu_us_per_req", "publish to 100 subscriptions: Postgres CPU per request", "us"),
    ("fanout_pg_ratio", "  / enqueue_many", "x"),
    ("fanout_publish_100_ms", "  a call", "ms"),
    ("fanout_100_ratio", "  / enqueue_many", "x"),
    ("Overload: 1.25 x the drain rate arriving (100 per transaction), 1 worker", None, None),
    ("overload_offered_rps", "Offered", "req/s"),
    ("overload_arrival_rps", "  achieved", "req/s"),
    ("overload_delivered_rps", "  delivered while arriving", "req/s"),
    ("overload_delivered_ratio", "  ratio to the drain rate", "x"),
    ("overload_backlog_at_end", "  left waiting when arrivals stopped", "req"),
    ("overload_tail_n", "Tail: delivered after arrivals stopped", "req"),
    ("overload_tail_s", "  in (until drained, or the bound of the part)", "s"),
    ("overload_tail_left", "  left waiting then", "req"),
    ("overload_tail_rps", "  rate", "req/s"),
    ("overload_tail_ratio", "  ratio to the drain rate", "x"),
    ("Steady state: httpq.enqueue from 4 sessions, 1 worker, to receiver.py", None, None),
    *paced_rows("steady"),
    ("steady_plain_offered_rps", "Plain one-row INSERT, same driver, no worker: offered", "rows/s"),
    ("steady_plain_arrival_rps", "  achieved", "rows/s"),
    ("steady_plain_late_p99_ms", "  send later than its schedule: p99", "ms"),
    ("steady_plain_errors", "  failed transactions", ""),
    ("steady_plain_pg_cpu_us_per_row", "  Postgres CPU per row", "us"),
    ("steady_plain_driver_cpu_us_per_req", "  driver CPU per row (drive.py, not in the figures)", "us"),
    ("steady_cpu_ratio", "httpq CPU per request / plain CPU per row", "x"),
    ("Long transaction elsewhere: the steady arrivals while an xid is held", None, None),
    ("longtx_held_s", "Transaction with an xid open for", "s"),
    *paced_rows("longtx"),
    ("longtx_cpu_ratio", "  Postgres CPU per request / steady state's", "x"),
    ("Backlog: one claim of 100 (median)", None, None),
    ("claim_ms_10k", "10,000 waiting", "ms"),
    ("claim_ms_100k", "100,000 waiting", "ms"),
    ("claim_ms_1m", "1,000,000 waiting", "ms"),
    ("claim_ms_10m", "10,000,000 waiting", "ms"),
    ("claim_growth", "  largest / 10,000", "x"),
    ("Worker footprint", None, None),
    ("worker_rss_mib_idle", "RSS after start", "MiB"),
    ("footprint_inflight_max", "In flight at the 1 s sink (most at once)", "req"),
    ("worker_rss_mib_1000_inflight", "Peak RSS with 1,000 in flight", "MiB"),
    ("worker_cpu_s_per_1000", "CPU per 1,000 delivered, 1,000 in flight", "s"),
    ("Fairness and limits under load", None, None),
    ("fairness_small_drain_ms", "10 requests next to a big channel: all delivered after", "ms"),
    ("fairness_big_drain_s", "  the big channel: all delivered after", "s"),
    ("rate_limited_delivered_rps", "Channel limited to 50 req/s: delivered", "req/s"),
    ("Isolation: 50 healthy channels from 8 sessions, 1 worker, to receiver.py; alone, then beside bad channels",
     None, None),
    *paced_rows("isolation_base", "Alone: offered, 1 per transaction, spread over the channels"),
    *paced_rows("isolation_bad", "Beside a black hole and a 429 channel: offered"),
    ("isolation_p99_ratio", "Healthy p99 beside the bad channels / alone", "x"),
    ("isolation_hole_attempts", "Black hole (every attempt times out): attempts", "req"),
    ("isolation_hole_inflight_max", "  in flight at once, most (connections held at the sink)", "req"),
    ("isolation_throttled_rps", "429 channel, rate-limited: attempts at its sink", "req/s"),
    ("isolation_throttled_limit_rps", "  its limit", "req/s"),
    ("isolation_throttled_attempts", "  attempts in the window", "req"),
    ("isolation_throttled_window_s", "  window: first to last healthy arrival of the run", "s"),
    ("History maintenance next to delivery (statement latency)", None, None),
    ("maint_heartbeat_alone_p50_ms", "Heartbeat of 10, alone: p50", "ms"),
    ("maint_heartbeat_alone_p99_ms", "  p99", "ms"),
    ("maint_heartbeat_alone_max_ms", "  max", "ms"),
    ("maint_heartbeat_during_p50_ms", "Heartbeat of 10, while maintain runs: p50", "ms"),
    ("maint_heartbeat_during_p99_ms", "  p99", "ms"),
    ("maint_heartbeat_during_max_ms", "  max", "ms"),
    ("maint_report_alone_p50_ms", "Report of 10, alone: p50", "ms"),
    ("maint_report_alone_p99_ms", "  p99", "ms"),
    ("maint_report_alone_max_ms", "  max", "ms"),
    ("maint_report_during_p50_ms", "Report of 10, while maintain runs: p50", "ms"),
    ("maint_report_during_p99_ms", "  p99", "ms"),
    ("maint_report_during_max_ms", "  max", "ms"),
    ("maint_rows", "Maintain: finished requests to remove", "rows"),
    ("maint_seconds", "  removed in", "s"),
    ("maint_calls", "  calls of httpq.maintain()", ""),
    ("maint_call_max_ms", "  longest call", "ms"),
    ("maint_partitions_dropped", "  partitions dropped", ""),
    ("maint_rows_deleted", "  rows deleted in slices", "rows"),
    ("maint_rows_left", "  left afterwards", "rows"),
]
if soak:
    ROWS += [
        ("Soak: half the drain rate arriving (10 per transaction), 1 worker", None, None),
        ("soak_minutes", "Minutes", ""),
        ("soak_offered_rps", "Offered", "req/s"),
        ("soak_arrival_rps", "  achieved", "req/s"),
        ("soak_backlog_at_end", "  left waiting when arrivals stopped", "req"),
    ]
    for n in minutes:
        ROWS += [
            (f"soak_minute_{n}_delivered_rps", f"Minute {n}: delivered", "req/s"),
            (f"soak_minute_{n}_request_bytes", "  httpq.request, indexes and TOAST", "bytes"),
            (f"soak_minute_{n}_history_bytes", "  httpq.history, every partition", "bytes"),
            (f"soak_minute_{n}_worker_rss_mib", "  worker RSS", "MiB"),
        ]
    ROWS += [
        ("soak_last_to_first", "Last minute's delivered / first minute's", "x"),
        ("soak_request_bytes_first", "httpq.request size: first minute", "bytes"),
        ("soak_request_bytes_max", "  largest", "bytes"),
        ("soak_request_growth", "  largest / first", "x"),
        ("soak_history_bytes_first", "httpq.history size: first minute", "bytes"),
        ("soak_history_bytes_max", "  largest", "bytes"),
        ("soak_worker_rss_mib_first", "Worker RSS: first minute", "MiB"),
        ("soak_worker_rss_mib_max", "  largest", "MiB"),
    ]


def show(v):
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:,}"


verdicts = {}
target_lines = ["\nTargets"]
for label, key, unit, text, check in TARGETS:
    if key in SOAK_KEYS and not soak:
        value, verdict = "not run", "(make bench SOAK=1)"
    elif not ran(key):
        value, verdict = "not run", f"(--only {only})"
    elif key not in figures:
        value, verdict = "missing", "missing"
    else:
        value = show(figures[key])
        verdict = "met" if check(figures[key]) else "SHORT"
    verdicts[key] = verdict
    shown_unit = unit if value not in ("missing", "not run") else ""
    target_lines.append(f"  {label:<54} {value:>10} {shown_unit:<5} target {text:<14} {verdict}")

lines, heading = [], None
for key, label, unit in ROWS:
    if label is None:
        heading = key
        continue
    if key not in figures and key not in REQUIRED:
        continue
    if heading:   # a section shows only when it has a figure to show
        lines.append(f"\n{heading}")
        heading = None
    value = show(figures[key]) if key in figures else "missing"
    lines.append(f"  {label:<62} {value:>12} {unit}")


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
mem_kib = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
machine = {
    "cpu": cpu,
    "cores": os.cpu_count(),
    "memory_gib": round(mem_kib / 1024 / 1024, 1),
    "kernel": platform.release(),
    "os": next((l.split("=", 1)[1].strip().strip('"') for l in open("/etc/os-release") if l.startswith("PRETTY_NAME")), None),
    "postgres": sh("pg_config", "--version"),
}
commit = sh("git", "rev-parse", "--short", "HEAD")
if commit and sh("git", "status", "--porcelain", "--", "sql", "Sources", "Package.swift"):
    commit += "+changes"

header = (f"httpq benchmark ({mode}{', large' if large else ''}{', soak' if soak else ''}"
          f"{f', only {only}' if only else ''}) at {commit}: "
          f"{machine['cores']} cores, {machine['cpu']}, {machine['memory_gib']} GiB, {machine['postgres']}; "
          f"durable cluster (fsync, synchronous_commit on); payload {figures.get('payload_bytes', '?')} bytes of "
          f"JSON; load average {figures.get('load_avg_at_start', '?')} at start")
print("\n" + header + "\n".join(lines) + "\n" + "\n".join(target_lines))
if figures.get("load_avg_at_start", 0) > 0.5:
    notes.insert(0, f"the machine was not idle at the start (load average {figures['load_avg_at_start']}): "
                    "other work shares the cores, so figures may be low")
for tag in ("steady", "longtx", "isolation_base", "isolation_bad"):
    if figures.get(f"{tag}_latency_min_ms", 0) < 0:
        notes.append(f"{tag}: some requests arrived before their session read the clock after COMMIT returned "
                     f"(min {figures[f'{tag}_latency_min_ms']} ms): that session was not scheduled at once, so "
                     "latencies can be understated by up to about that much")
# The isolation ratio means something only when the run without bad channels kept up.
base_offered, base_rps = get("isolation_base_offered_rps"), get("isolation_base_arrival_rps")
base_left = get("isolation_base_backlog_at_end")
if base_offered and base_rps is not None and base_left is not None and (base_rps < 0.95 * base_offered
                                                                       or base_left > base_rps):
    notes.append(f"isolation: the run without bad channels did not keep up ({base_rps:,} of {base_offered:,} req/s "
                 f"committed, {base_left:,} not yet arrived at the last COMMIT): its latency is mostly queueing, so "
                 "isolation_p99_ratio compares two overloaded runs")
if notes:
    print("\nNotes:")
    for n in notes:
        print(f"  {n}")
soak_part = f" (the soak {figures['soak_part_seconds']} s of it)" if "soak_part_seconds" in figures else ""
print(f"\n{figures.get('bench_seconds', '?')} s{soak_part}; figures in {json_path}")

document = {k: figures.get(k) for k in REQUIRED}
document.update({k: v for k, v in figures.items() if k not in document})
document.update({
    "mode": mode + ("+large" if large else "") + ("+soak" if soak else "") + (f"+only:{only}" if only else ""),
    "commit": commit,
    "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": machine,
    "targets": [{"target": label, "figure": key, "value": figures.get(key), "unit": unit, "wanted": text,
                 "verdict": verdicts[key]} for label, key, unit, text, _ in TARGETS],
    "notes": notes,
})
os.makedirs(os.path.dirname(json_path) or ".", exist_ok=True)
with open(json_path, "w") as f:
    json.dump(document, f, indent=2)
    f.write("\n")
