#!/usr/bin/env python3
"""Hostile-client figures for BENCHMARKS.md, against a running `steward serve` at BASE (PID).

1. Peak RSS (VmHWM) of the server under 300 parallel sign-ins from 300 loopback addresses
   (127.0.1.1 ... 127.0.2.50), so the per-address limit does not stop them before the password
   check: only the verification pool bounds memory.
2. A normal request's latency (p50 / p99 of 50) beside 1,000 connections that sent half a
   request and stopped.
Usage: bench_hardening.py BASE PID
"""
import json
import socket
import statistics
import sys
import threading
import time
import urllib.request

base, pid = sys.argv[1], int(sys.argv[2])
host, port = base.removeprefix("http://").split(":")
port = int(port)


def hwm_kb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1])
    return 0


def rss_kb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])
    return 0


def sign_in(i, results):
    body = json.dumps({"username": f"user{i}", "password": "not-the-password-123"}).encode()
    src = f"127.0.{1 + i // 250}.{1 + i % 250}"
    try:
        s = socket.create_connection((host, port), timeout=60, source_address=(src, 0))
        req = (
            f"POST /api/v1/auth/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        s.sendall(req)
        data = s.recv(64)
        s.close()
        results.append(int(data.split()[1]))
    except Exception as e:  # noqa: BLE001 - counted, printed
        results.append(str(e))


before = rss_kb()
results = []
threads = [threading.Thread(target=sign_in, args=(i, results)) for i in range(300)]
t0 = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.time() - t0
counts = {}
for r in results:
    counts[r] = counts.get(r, 0) + 1
print("## 300 parallel sign-ins from 300 addresses")
print(f"RSS before {before / 1024:.1f} MB, peak (VmHWM) {hwm_kb() / 1024:.1f} MB, "
      f"after {rss_kb() / 1024:.1f} MB; {elapsed:.1f} s; answers {counts}")


def request_ms():
    t = time.perf_counter()
    with urllib.request.urlopen(f"{base}/healthz", timeout=30) as r:
        r.read()
    return (time.perf_counter() - t) * 1000


calm = sorted(request_ms() for _ in range(50))
stalled = []
for _ in range(1000):
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        stalled.append(s)
    except OSError as e:
        print(f"could not open a stalled connection: {e}")
        break
time.sleep(0.5)
busy = sorted(request_ms() for _ in range(50))
time.sleep(12)
closed = 0
for s in stalled:
    s.settimeout(0.01)
    try:
        s.recv(1024)  # EOF, or a 408 before the close: the server acted either way
        closed += 1
    except (socket.timeout, BlockingIOError):
        pass  # still open
    except OSError:
        closed += 1  # reset
    s.close()
print(f"## A normal request beside {len(stalled)} half-sent requests")
print(f"alone: p50 {statistics.median(calm):.2f} ms, p99 {calm[48]:.2f} ms; "
      f"beside them: p50 {statistics.median(busy):.2f} ms, p99 {busy[48]:.2f} ms; "
      f"{closed} of {len(stalled)} closed by the server within 12 s (header timeout 10 s)")
