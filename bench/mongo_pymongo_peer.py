"""The PyMongo peer of `poolkit bench mongo`: N threads each find one document by _id in
poolkit_bench.find_by_id (seeded by `poolkit bench mongo`) through one MongoClient with
maxPoolSize=N. Prints one JSON object.

    python mongo_pymongo_peer.py URL CONCURRENCY SECONDS
"""

import json
import sys
import threading
import time

from pymongo import MongoClient

DOCUMENTS = 100


def main() -> int:
    url, concurrency, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    client = MongoClient(url, maxPoolSize=concurrency, minPoolSize=concurrency)
    collection = client["poolkit_bench"]["find_by_id"]
    collection.find_one({"_id": 0})  # connect before timing

    ops = [0] * concurrency
    errors = [0] * concurrency
    latencies = [[] for _ in range(concurrency)]
    end = time.monotonic() + seconds

    def work(worker: int) -> None:
        key = worker * 7919
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                if collection.find_one({"_id": key % DOCUMENTS}) is None:
                    errors[worker] += 1
                else:
                    ops[worker] += 1
                    latencies[worker].append(int((time.monotonic() - started) * 1e6))
            except Exception:  # counted, like the other peers' failures
                errors[worker] += 1
            key += 1

    start = time.monotonic()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start

    merged = sorted(x for per_worker in latencies for x in per_worker)

    def quantile(q: float) -> int:
        return merged[min(len(merged) - 1, int(q * len(merged)))] if merged else 0

    print(json.dumps({
        "peer": "pymongo",
        "concurrency": concurrency,
        "ops": sum(ops),
        "errors": sum(errors),
        "ops_per_sec": round(sum(ops) / elapsed, 1),
        "latency_us": {"p50": quantile(0.5), "p99": quantile(0.99)},
    }))
    client.close()
    return 0 if sum(errors) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
