// rate-limiter-flexible (RateLimiterRedis) driven like Tessera's limiter in
// `make bench`: the same Redis, limits, keys and concurrency. Prints one
// JSON line per scenario.
//
//   node peer.mjs <redis port> <concurrency> <seconds> <users> <limit>

import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterUnion } from 'rate-limiter-flexible';

const [port, concurrency, seconds, users, limit] = process.argv.slice(2).map(Number);
const redis = new Redis({ host: '127.0.0.1', port });

const limiter = (keyPrefix) => new RateLimiterRedis({ storeClient: redis, points: limit, duration: 60, keyPrefix });

async function measure(name, consume, runSeconds) {
  const latencies = [];
  let denied = 0;
  const end = performance.now() + runSeconds * 1000;
  async function worker(offset) {
    for (let i = offset; performance.now() < end; i += concurrency) {
      const key = `user-${(i * 7919) % users}`;
      const started = performance.now();
      try {
        await consume(key);
      } catch (rejection) {
        if (rejection instanceof Error) throw rejection;
        denied += 1;
      }
      latencies.push(performance.now() - started);
    }
  }
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const quantile = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { name, ops_per_sec: latencies.length / elapsed, p50_ms: quantile(0.5), p99_ms: quantile(0.99), denied };
}

const one = limiter('rlf-one');
const union = new RateLimiterUnion(limiter('rlf-a'), limiter('rlf-b'), limiter('rlf-c'), limiter('rlf-d'));
for (const [name, consume] of [['1 rule', (k) => one.consume(k)], ['4 rules', (k) => union.consume(k)]]) {
  await measure(name, consume, 1); // warm-up: JIT, script load
  console.log(JSON.stringify(await measure(name, consume, seconds)));
}
redis.disconnect();
