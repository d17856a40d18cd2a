// The ioredis peer of bench/redis_async.sh: one connection with enableAutoPipelining (commands
// issued in the same event-loop turn go out in one write), N GETs kept in flight for DURATION
// seconds after a short warm-up. Prints "rps p50_us p99_us commands cpu_seconds", the CPU time
// (user + system, all threads) of the timed run alone: Node's start-up is not the client's cost.
//
// Usage: node bench/redis_async_ioredis.js PORT INFLIGHT DURATION KEY (password in REDISCLI_AUTH;
//        ioredis from NODE_PATH, bench/redis_async.sh installs it under build/bench-peers)
'use strict';
const Redis = require('ioredis');

async function main() {
  const [port, inflight, duration, key] = process.argv.slice(2);
  const redis = new Redis({
    host: '127.0.0.1',
    port: Number(port),
    password: process.env.REDISCLI_AUTH,
    enableAutoPipelining: true,
    lazyConnect: true,
  });
  await redis.connect();

  // Each worker issues its next GET when its last one is answered, until `until` (hrtime ns).
  const run = async (until, latencies) => {
    const workers = [];
    for (let i = 0; i < Number(inflight); ++i) {
      workers.push((async () => {
        for (let now = process.hrtime.bigint(); now < until; now = process.hrtime.bigint()) {
          await redis.get(key);
          if (latencies) latencies.push(Number(process.hrtime.bigint() - now) / 1000);
        }
      })());
    }
    await Promise.all(workers);
  };
  const seconds = (s) => BigInt(Math.round(s * 1e9));
  await run(process.hrtime.bigint() + seconds(Math.min(0.5, duration / 10)), null);

  const latencies = [];
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await run(started + seconds(Number(duration)), latencies);
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  redis.disconnect();

  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const cpuSeconds = (used.user + used.system) / 1e6;
  console.log(`${Math.round(latencies.length / elapsed)} ${at(0.5).toFixed(1)} ${at(0.99).toFixed(1)} ` +
              `${latencies.length} ${cpuSeconds.toFixed(3)}`);
}

main().catch((error) => {
  console.error(`redis_async_ioredis.js: ${error.message}`);
  process.exit(1);
});
