#!/usr/bin/env bash
# Steward's benchmarks. Prints figures to paste into BENCHMARKS.md. Needs the release build
# (`make build`), Debian's prometheus-node-exporter and wrk. Everything runs on loopback.
#   scripts/bench.sh [resources|agent|pageload|ssr|prometheus|containers|stream|maintenance|models|chart|filter|hardening|sweep|killtrials|fleetscale|replicas|failover|all]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${STEWARD_BIN:-$root/target/release/steward}"
site="${STEWARD_SITE_ROOT:-$root/target/site}"
what="${1:-all}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
clk=$(getconf CLK_TCK)
# The page, SSR and fleet benchmarks drive load with wrk; say so plainly instead of failing later.
case "$what" in
  ssr|containers|maintenance|models|fleetscale|all)
    command -v wrk >/dev/null || { echo "scripts/bench.sh $what needs wrk: apt-get install wrk" >&2; exit 2; } ;;
esac

start_steward() {
  local port; port=$(free_port)
  # Visitors may read (the page benchmarks are anonymous); Docker is measured by `containers`.
  printf '[auth]\nanonymous_read = true\n[docker]\nenabled = false\n' >"$work/steward.toml"
  printf 'bench-admin-password\n' >"$work/admin.pw"
  "$bin" --config "$work/steward.toml" --collect-interval 5 serve --admin-password-file "$work/admin.pw" --listen "127.0.0.1:$port" --data-dir "$work/data" --site-root "$site" \
    >"$work/steward.out" 2>"$work/steward.err" &
  pids+=($!); steward_pid=$!
  for _ in $(seq 100); do grep -q listening "$work/steward.out" 2>/dev/null && break; sleep 0.1; done
  base="http://127.0.0.1:$port"
}

resources() {
  echo "## Resource use over 60 s, 5 s interval ($(nproc) cores, $(uname -r))"
  start_steward
  local ne_port; ne_port=$(free_port)
  prometheus-node-exporter --web.listen-address="127.0.0.1:$ne_port" --no-collector.systemd >/dev/null 2>&1 &
  pids+=($!); local ne_pid=$!
  sleep 6   # both warmed up: steward's first round, node_exporter's first scrape below
  curl -s "http://127.0.0.1:$ne_port/metrics" >/dev/null
  local s0 n0 s_rss=0 n_rss=0
  s0=$(ticks "$steward_pid"); n0=$(ticks "$ne_pid")
  for _ in $(seq 12); do
    curl -s "http://127.0.0.1:$ne_port/metrics" >/dev/null   # node_exporter only works when scraped
    s_rss=$(( $(rss_kb "$steward_pid") > s_rss ? $(rss_kb "$steward_pid") : s_rss ))
    n_rss=$(( $(rss_kb "$ne_pid") > n_rss ? $(rss_kb "$ne_pid") : n_rss ))
    sleep 5
  done
  local s1 n1; s1=$(ticks "$steward_pid"); n1=$(ticks "$ne_pid")
  printf '| process | CPU time in 60 s | avg CPU | peak RSS |\n|---|---|---|---|\n'
  awk -v t=$((s1-s0)) -v c="$clk" -v r="$s_rss" 'BEGIN{printf "| steward serve (collect every 5 s, history, SSE idle) | %.2f s | %.2f %% | %.1f MB |\n", t/c, t/c/60*100, r/1024}'
  awk -v t=$((n1-n0)) -v c="$clk" -v r="$n_rss" 'BEGIN{printf "| prometheus-node-exporter (scraped every 5 s) | %.2f s | %.2f %% | %.1f MB |\n", t/c, t/c/60*100, r/1024}'
  kill "$steward_pid" "$ne_pid"
}

agent() {
  echo "## Agent footprint over 120 s, 5 s interval, side by side with node_exporter ($(nproc) cores)"
  start_steward
  # Two hosts: one for `steward agent` (the whole binary), one for `steward-agent` (the agent
  # alone, built beside it), each with its own token and buffer.
  local small="${bin%/*}/steward-agent"
  printf '[agent]\ninterval_secs = 5\n' >"$work/agent.toml"
  local a
  for a in full small; do
    "$bin" --config "$work/steward.toml" host add "bench-$a" --data-dir "$work/data" >"$work/$a.token" 2>/dev/null
  done
  "$bin" --config "$work/agent.toml" agent --hub "$base" --token-file "$work/full.token" --data-dir "$work/full" \
    >/dev/null 2>"$work/full.err" &
  pids+=($!); local full_pid=$!
  "$small" --config "$work/agent.toml" --hub "$base" --token-file "$work/small.token" --data-dir "$work/small" \
    >/dev/null 2>"$work/small.err" &
  pids+=($!); local small_pid=$!
  local ne_port; ne_port=$(free_port)
  prometheus-node-exporter --web.listen-address="127.0.0.1:$ne_port" --no-collector.systemd >/dev/null 2>&1 &
  pids+=($!); local ne_pid=$!
  sleep 6
  curl -s "http://127.0.0.1:$ne_port/metrics" >/dev/null
  local f0 s0 n0 f_rss=0 s_rss=0 n_rss=0
  f0=$(ticks "$full_pid"); s0=$(ticks "$small_pid"); n0=$(ticks "$ne_pid")
  for _ in $(seq 24); do
    curl -s "http://127.0.0.1:$ne_port/metrics" >/dev/null
    f_rss=$(( $(rss_kb "$full_pid") > f_rss ? $(rss_kb "$full_pid") : f_rss ))
    s_rss=$(( $(rss_kb "$small_pid") > s_rss ? $(rss_kb "$small_pid") : s_rss ))
    n_rss=$(( $(rss_kb "$ne_pid") > n_rss ? $(rss_kb "$ne_pid") : n_rss ))
    sleep 5
  done
  local f1 s1 n1; f1=$(ticks "$full_pid"); s1=$(ticks "$small_pid"); n1=$(ticks "$ne_pid")
  beats() { curl -s "$base/api/v1/fleet/hosts/bench-$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["heartbeats_total"])'; }
  local size_full size_small; size_full=$(stat -c %s "$bin"); size_small=$(stat -c %s "$small")
  printf '| process | CPU time in 120 s | avg CPU | peak RSS |\n|---|---|---|---|\n'
  awk -v t=$((f1-f0)) -v c="$clk" -v r="$f_rss" -v b="$(beats full)" -v z="$size_full" 'BEGIN{printf "| steward agent (%.0f MB binary; collect + gzip + POST every 5 s; %s heartbeats acked) | %.2f s | %.3f %% | %.1f MB |\n", z/1e6, b, t/c, t/c/120*100, r/1024}'
  awk -v t=$((s1-s0)) -v c="$clk" -v r="$s_rss" -v b="$(beats small)" -v z="$size_small" 'BEGIN{printf "| steward-agent (%.0f MB binary; the same; %s heartbeats acked) | %.2f s | %.3f %% | %.1f MB |\n", z/1e6, b, t/c, t/c/120*100, r/1024}'
  awk -v t=$((n1-n0)) -v c="$clk" -v r="$n_rss" 'BEGIN{printf "| prometheus-node-exporter (scraped every 5 s) | %.2f s | %.3f %% | %.1f MB |\n", t/c, t/c/120*100, r/1024}'
  kill "$full_pid" "$small_pid" "$ne_pid" "$steward_pid"
}

pageload() {
  echo "## First page load, bytes on the wire (HTML + CSS + JS + WASM)"
  start_steward
  sleep 1
  for enc in "br, gzip" "gzip"; do
    local total=0 line=""
    # With `--split`, the overview also loads the split loader (its chunks load on other pages).
    local extra=""
    for f in "$site"/pkg/__wasm_split*.js; do [ -f "$f" ] && extra="$extra /pkg/$(basename "$f")"; done
    for p in / /pkg/steward.css /pkg/steward.js /pkg/steward.wasm $extra; do
      local n; n=$(curl -s -o /dev/null -H "Accept-Encoding: $enc" -w '%{size_download}' "$base$p")
      total=$((total + n)); line="$line $p=$n"
    done
    awk -v e="$enc" -v t="$total" -v l="$line" 'BEGIN{printf "- Accept-Encoding \"%s\": %d bytes (%.1f KB):%s\n", e, t, t/1000, l}'
  done
  local raw; raw=$(stat -c %s "$site/pkg/steward.wasm")
  echo "- steward.wasm uncompressed: $raw bytes"
  for f in "$site"/pkg/*.wasm; do
    [ "$(basename "$f")" = steward.wasm ] && continue
    echo "- lazy chunk $(basename "$f"): $(stat -c %s "$f") bytes, br $(stat -c %s "$f.br" 2>/dev/null || echo ?)"
  done
  kill "$steward_pid"
}

ssr() {
  echo "## SSR latency of the overview, 50 connections, 20 s (wrk, same machine)"
  start_steward
  sleep 6
  wrk -t2 -c50 -d20s --latency "$base/" | sed -n '/Latency Distribution/,/Requests\/sec/p'
  kill "$steward_pid"
}

# Median and p99 (ms) of curl's total time over N requests to a URL.
time_requests() {
  local url="$1" n="$2"
  for _ in $(seq "$n"); do curl -s -o /dev/null -w '%{time_total}\n' "$url"; done |
    sort -n | awk '{a[NR]=$1*1000} END {printf "%.2f %.2f", a[int(NR*0.5)+1], a[int(NR*0.99)]}'
}

prometheus_proxy() {
  echo "## 30-day trend through the Prometheus proxy vs Prometheus directly (200 requests each)"
  local now end start om="$work/backfill.om"
  now=$(date +%s); end=$((now - 600)); start=$((end - 30 * 86400))
  # 30 days of disk usage at 60 s, backfilled before Prometheus starts.
  awk -v s="$start" -v e="$end" 'BEGIN {
    print "# TYPE node_filesystem_avail_bytes gauge";
    for (t = s; t <= e; t += 60) printf "node_filesystem_avail_bytes{mountpoint=\"/\"} %.0f %d\n", 1e11 * (0.6 - (t - s) / 8640000), t;
    print "# TYPE node_filesystem_size_bytes gauge";
    for (t = s; t <= e; t += 60) printf "node_filesystem_size_bytes{mountpoint=\"/\"} 1e11 %d\n", t;
    print "# EOF" }' > "$om"
  mkdir -p "$work/tsdb"
  promtool tsdb create-blocks-from openmetrics "$om" "$work/tsdb" >/dev/null
  local pport; pport=$(free_port)
  printf 'global:\n  scrape_interval: 15s\n' > "$work/prometheus.yml"
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$pport" --storage.tsdb.retention.time=400d >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null && break; sleep 0.1; done
  printf '[auth]\nanonymous_read = true\n[docker]\nenabled = false\n[prometheus]\nurl = "http://127.0.0.1:%s"\n' "$pport" > "$work/steward.toml"
  local sport; sport=$(free_port)
  "$bin" --config "$work/steward.toml" serve --listen "127.0.0.1:$sport" --data-dir "$work/data" \
    --site-root "$site" >"$work/steward.out" 2>"$work/steward.err" &
  pids+=($!)
  for _ in $(seq 100); do grep -q listening "$work/steward.out" 2>/dev/null && break; sleep 0.1; done
  local trend="http://127.0.0.1:$sport/api/v1/trend/disk?range=30d"
  curl -s "$trend" > "$work/trend.json"
  local step qs q
  step=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["step_secs"])' "$work/trend.json")
  q='max(100 * (1 - node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"}))'
  qs=$(python3 -c 'import sys,urllib.parse as u; print(u.quote(sys.argv[1]))' "$q")
  local direct="http://127.0.0.1:$pport/api/v1/query_range?query=$qs&start=$((now - 30 * 86400))&end=$now&step=$step"
  time_requests "$trend" 20 >/dev/null; time_requests "$direct" 20 >/dev/null   # warm-up
  local p d
  p=$(time_requests "$trend" 200); d=$(time_requests "$direct" 200)
  printf '| path | p50 | p99 |\n|---|---|---|\n| Steward /api/v1/trend/disk?range=30d (step %ss) | %s ms | %s ms |\n| Prometheus query_range, same query and step | %s ms | %s ms |\n' \
    "$step" ${p% *} ${p#* } ${d% *} ${d#* }
  awk -v a="${p% *}" -v b="${d% *}" 'BEGIN { printf "- proxy / direct at p50: %.2fx\n", a / b }'
}

case "$what" in
  resources) resources ;;
  agent) agent ;;
  pageload) pageload ;;
  ssr) ssr ;;
  prometheus) prometheus_proxy ;;
  containers) (cd "$root" && cargo bench -p steward-tests --bench containers) ;;
  stream) (cd "$root" && cargo bench -p steward-tests --bench stream) ;;
  maintenance) (cd "$root" && cargo bench -p steward-tests --bench maintenance) ;;
  models) (cd "$root" && STEWARD_BIN="$bin" cargo bench -p steward-tests --bench models) ;;
  chart) (cd "$root" && STEWARD_BIN="$bin" STEWARD_SITE_ROOT="$site" cargo test --release -p end2end --test browser bench_chart_redraw -- --ignored --nocapture) ;;
  filter) (cd "$root" && STEWARD_BIN="$bin" STEWARD_SITE_ROOT="$site" cargo test --release -p end2end --test browser bench_filter_500_containers -- --ignored --nocapture) ;;
  sweep) (cd "$root" && cargo bench -p steward-tests --bench sweep) ;;
  fleetscale) (cd "$root" && STEWARD_BIN="$bin" STEWARD_SITE_ROOT="$site" cargo bench -p steward-tests --bench fleet_scale) ;;
  replicas) (cd "$root" && cargo bench -p steward-tests --bench replicas) ;;
  failover)
    # Five SIGKILLs of the replica holding the sweep's lease, each in a fresh cluster.
    for _ in 1 2 3 4 5; do
      (cd "$root" && STEWARD_BIN="$bin" cargo test --release -p steward-tests --test api replicas_share_the_fleet -- --nocapture 2>&1 | grep 'replica failover')
    done ;;
  killtrials) (cd "$root" && STEWARD_BIN="$bin" STEWARD_KILL_TRIALS=20 cargo test --release -p steward-tests --test api acked_heartbeats_survive_sigkill -- --nocapture 2>&1 | grep 'kill -9 trials') ;;
  hardening)
    start_steward
    sleep 1
    python3 "$root/scripts/bench_hardening.py" "$base" "$steward_pid"
    (cd "$root" && cargo test --release -p steward-tests --test api history_resumes_after_a_full_disk_is_freed -- --nocapture 2>&1 | grep 'history resumed')
    ;;
  all) resources; echo; pageload; echo; ssr; echo; prometheus_proxy ;;
  *) echo "usage: $0 [resources|agent|pageload|ssr|prometheus|containers|stream|maintenance|models|chart|filter|hardening|sweep|killtrials|fleetscale|replicas|failover|all]" >&2; exit 2 ;;
esac
