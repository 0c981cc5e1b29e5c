#!/usr/bin/env python3
"""Turns the figures bench.sh measured into a table and .build/bench/latest.json.

    report.py RESULTS JSON MODE LARGE

RESULTS holds one `key value` line per measured figure and `note ...` lines. Only
ratios of two measured figures are computed here; nothing is estimated. A figure that
was not measured prints as "missing" and is null in the JSON.
"""
import datetime
import json
import os
import platform
import subprocess
import sys

results_path, json_path, mode, large = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"

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
                figures[key] = float(value)


def ratio(a, b, digits=3):
    if figures.get(a) is not None and figures.get(b):
        return round(figures[a] / figures[b], digits)
    return None


ceilings = [figures[k] for k in ("ceiling_http_rps", "ceiling_db_rows_per_s") if k in figures]
if len(ceilings) == 2:
    figures["ceiling_rps"] = min(ceilings)
    figures["e2e_ratio_to_ceiling"] = ratio("e2e_delivered_rps", "ceiling_rps")
    figures["e2e_steady_ratio_to_ceiling"] = ratio("e2e_steady_delivered_rps", "ceiling_rps")
biggest = "claim_ms_10m" if "claim_ms_10m" in figures else "claim_ms_1m" if "claim_ms_1m" in figures else "claim_ms_100k"
figures["claim_growth"] = ratio(biggest, "claim_ms_10k", 2)
figures = {k: v for k, v in figures.items() if v is not None}

REQUIRED = ["ceiling_http_rps", "ceiling_db_rows_per_s", "enqueue_rps", "enqueue_batch_rps",
            "e2e_delivered_rps", "e2e_ratio_to_ceiling", "latency_idle_p50_ms", "latency_half_load_p99_ms",
            "claim_ms_10k", "claim_ms_1m", "worker_rss_mib_1000_inflight"]


def target(key, ok, text):
    return (lambda: None if key not in figures else ok(figures[key]), text)


half_ceiling = figures.get("ceiling_rps", 0) / 2
TARGETS = {
    "e2e_ratio_to_ceiling": target("e2e_ratio_to_ceiling", lambda v: v >= 0.5, ">= 0.5"),
    "latency_idle_p50_ms": target("latency_idle_p50_ms", lambda v: v < 2, "< 2"),
    "latency_half_load_p99_ms": target("latency_half_load_p99_ms", lambda v: v < 20, "< 20"),
    "claim_growth": target("claim_growth", lambda v: v <= 1.5, "<= 1.5"),
    "worker_rss_mib_1000_inflight": target("worker_rss_mib_1000_inflight", lambda v: v < 64, "< 64"),
    "fairness_small_drain_ms": target("fairness_small_drain_ms",
                                      lambda v: v < 1000 * figures.get("fairness_big_drain_s", 0) / 10,
                                      "< a tenth of big"),
    "rate_limited_delivered_rps": target("rate_limited_delivered_rps", lambda v: 45 <= v <= 55, "50 +- 5"),
}

ROWS = [
    ("Ceilings", None, None),
    ("ceiling_http_rps", "HTTP sink: nginx, wrk keep-alive POSTs", "req/s"),
    ("ceiling_db_rows_per_s", "Database: pgbench claim 100 + delete, 1 client", "rows/s"),
    ("Enqueue", None, None),
    ("enqueue_rps", "httpq.enqueue, 1 per transaction, 4 clients", "req/s"),
    ("enqueue_batch_rps", "httpq.enqueue_many of 1,000, 2 clients", "req/s"),
    ("End to end (1 worker, 1 connection, concurrency 100)", None, None),
    ("e2e_delivered_rps", "Drain of the backlog: delivered", "req/s"),
    ("e2e_ratio_to_ceiling", "  ratio to the lower ceiling", ""),
    ("e2e_worker_cpu_s_per_1000", "  worker CPU per 1,000 delivered", "s"),
    ("e2e_cpu_worker_s", "  CPU during the drain: worker", "s"),
    ("e2e_cpu_postgres_s", "  CPU during the drain: Postgres", "s"),
    ("e2e_cpu_nginx_s", "  CPU during the drain: nginx", "s"),
    ("e2e_machine_busy_pct", "  machine busy during the drain", "%"),
    ("e2e_steady_offered_rps", "Arriving while it runs: offered", "req/s"),
    ("e2e_steady_delivered_rps", "  delivered", "req/s"),
    ("e2e_steady_backlog_at_end", "  left waiting when arrivals stopped", "req"),
    ("Latency: enqueue commit to delivered", None, None),
    ("latency_idle_p50_ms", "Idle queue (NOTIFY path): p50", "ms"),
    ("latency_idle_p99_ms", "  p99", "ms"),
    ("latency_idle_max_ms", "  max", "ms"),
    ("latency_half_load_rps", "Half the drain rate: arrivals", "req/s"),
    ("latency_half_load_per_tx", "  requests per enqueue transaction", ""),
    ("latency_half_load_p50_ms", "  p50", "ms"),
    ("latency_half_load_p99_ms", "  p99", "ms"),
    ("latency_half_load_max_ms", "  max", "ms"),
    ("Backlog: one claim of 100 (median)", None, None),
    ("claim_ms_10k", "10,000 waiting", "ms"),
    ("claim_ms_100k", "100,000 waiting", "ms"),
    ("claim_ms_1m", "1,000,000 waiting", "ms"),
    ("claim_ms_10m", "10,000,000 waiting", "ms"),
    ("claim_growth", "  largest / 10,000", "x"),
    ("Worker footprint", None, None),
    ("worker_rss_mib_idle", "RSS after start", "MiB"),
    ("worker_rss_mib_e2e", "Peak RSS, drain at concurrency 100", "MiB"),
    ("footprint_inflight_max", "In flight at the 1 s sink (most at once)", "req"),
    ("worker_rss_mib_1000_inflight", "Peak RSS with 1,000 in flight", "MiB"),
    ("worker_cpu_s_per_1000", "CPU per 1,000 delivered, 1,000 in flight", "s"),
    ("Fairness and limits under load", None, None),
    ("fairness_small_drain_ms", "10 requests next to a big channel: all delivered after", "ms"),
    ("fairness_big_drain_s", "  the big channel: all delivered after", "s"),
    ("rate_limited_delivered_rps", "Channel limited to 50 req/s: delivered", "req/s"),
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


def show(v):
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:,}"


lines = []
for key, label, unit in ROWS:
    if label is None:
        lines.append(f"\n{key}")
        continue
    if key not in figures and key not in REQUIRED:
        continue
    value = show(figures[key]) if key in figures else "missing"
    verdict = ""
    if key in TARGETS:
        check, text = TARGETS[key]
        ok = check()
        verdict = f"target {text}: " + ("missing" if ok is None else "met" if ok else "SHORT")
    lines.append(f"  {label:<58} {value:>12} {unit:<6} {verdict}")


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

header = (f"httpq benchmark ({mode}{', large' if large else ''}) at {commit}: {machine['cores']} cores, "
          f"{machine['cpu']}, {machine['memory_gib']} GiB, {machine['postgres']}; durable cluster "
          f"(fsync, synchronous_commit on); payload {figures.get('payload_bytes', '?')} bytes of JSON; "
          f"load average {figures.get('load_avg_at_start', '?')} at start")
print("\n" + header + "\n".join(lines))
if figures.get("load_avg_at_start", 0) > 0.5:
    notes.insert(0, f"the machine was not idle at the start (load average {figures['load_avg_at_start']}): "
                    "other work shares the cores, so figures may be low")
if notes:
    print("\nNotes:")
    for n in notes:
        print(f"  {n}")
print(f"\n{figures.get('bench_seconds', '?')} s; figures in {json_path}")

document = {k: figures.get(k) for k in REQUIRED}
document.update({k: v for k, v in figures.items() if k not in document})
document.update({
    "mode": mode + ("+large" if large else ""),
    "commit": commit,
    "measured_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": machine,
    "notes": notes,
})
os.makedirs(os.path.dirname(json_path), exist_ok=True)
with open(json_path, "w") as f:
    json.dump(document, f, indent=2)
    f.write("\n")
