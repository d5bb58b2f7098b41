// Consumer check, CommonJS: require() of the installed packages (ESM without top-level await,
// which Node >= 22.12 loads synchronously). Prints one JSON line.
const { decodeEventLine, encodeEvent, redact } = require('@llmsec/core');
const { parseDuration, defaultRules, DetectionEngine } = require('@llmsec/detect');
const { forEachLine } = require('@llmsec/detect/replay');
const { RateLimiter, MemoryStore } = require('@llmsec/ratelimit');
const { readJsonBody } = require('@llmsec/ratelimit/http');
const { SecurityEvents, defaultGuards } = require('@llmsec/sdk');
const { runCli } = require('llmsec');

async function main() {
  const { event } = decodeEventLine(
    '{"event_id":"evt-1","timestamp":"2026-01-01T00:00:00.000Z","category":"guardrail_block","severity":"warning","user_id":"u-1","metadata":{"layer":"prompt_injection"}}',
  );
  const limiter = new RateLimiter({ store: new MemoryStore(), tiers: { free: { requestsPerMinute: 1 } } });
  const first = await limiter.acquire({ subject: 'u-1', estimatedTokens: 10 });
  const second = await limiter.acquire({ subject: 'u-1', estimatedTokens: 10 });
  console.log(
    JSON.stringify({
      roundTrip: JSON.parse(encodeEvent(event)).event_id,
      redacted: redact('mail me at jane@example.com').text,
      window: parseDuration('5m'),
      rules: defaultRules().length,
      engine: typeof new DetectionEngine().ingest,
      limiter: [first.allowed, second.allowed],
      functions: [forEachLine, readJsonBody, defaultGuards, runCli].map((f) => typeof f),
      events: typeof SecurityEvents,
    }),
  );
}
main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
