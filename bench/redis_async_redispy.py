"""The redis-py peer of bench/redis_async.sh: its asyncio client (redis.asyncio, with hiredis's
parser when installed), N tasks each awaiting GET after GET for DURATION seconds after a short
warm-up. redis-py does not multiplex: its pool gives each task in flight a connection of its own.
Prints "rps p50_us p99_us commands cpu_seconds", the CPU time (user + system) of the timed run
alone: Python's start-up is not the client's cost.

Usage: python bench/redis_async_redispy.py PORT INFLIGHT DURATION KEY (password in
       REDISCLI_AUTH; redis-py from the venv bench/redis_async.sh makes under build/bench-peers)
"""

import asyncio
import os
import resource
import sys
import time

import redis.asyncio as aioredis


async def run(client, inflight, key, until, latencies):
    async def worker():
        now = time.perf_counter_ns()
        while now < until:
            await client.get(key)
            if latencies is not None:
                latencies.append((time.perf_counter_ns() - now) / 1000)
            now = time.perf_counter_ns()

    await asyncio.gather(*(worker() for _ in range(inflight)))


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main():
    port, inflight, duration, key = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    # Its pool holds 100 connections by default: one per task in flight, as a user sizing it would.
    client = aioredis.Redis(
        host="127.0.0.1", port=port, password=os.environ.get("REDISCLI_AUTH"), max_connections=inflight
    )
    await client.ping()
    await run(client, inflight, key, time.perf_counter_ns() + int(min(0.5, duration / 10) * 1e9), None)

    latencies = []
    cpu = cpu_seconds()
    started = time.perf_counter_ns()
    await run(client, inflight, key, started + int(duration * 1e9), latencies)
    elapsed = (time.perf_counter_ns() - started) / 1e9
    used = cpu_seconds() - cpu
    await client.aclose()

    latencies.sort()
    at = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(f"{round(len(latencies) / elapsed)} {at(0.5):.1f} {at(0.99):.1f} {len(latencies)} {used:.3f}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as error:  # one line the bench script shows, never a traceback
        print(f"redis_async_redispy.py: {error}", file=sys.stderr)
        sys.exit(1)
