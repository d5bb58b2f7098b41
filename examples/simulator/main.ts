// The traffic simulator as a program: drives a running chat API (for the compose stack).
//   node examples/simulator/main.ts --target http://127.0.0.1:8080 [--duration 60] [--seed 7]
// --duration 0 repeats the scenario forever (a new seed each round), for a live dashboard.
import { parseArgs } from 'node:util';
import { seededRandom } from '@llmsec/core';
import { drive } from './driver.ts';
import { buildPersonas } from './personas.ts';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: process.env.LLMSEC_TARGET ?? 'http://127.0.0.1:8080' },
    duration: { type: 'string', default: '60' },
    seed: { type: 'string', default: '7' },
  },
});

const durationSec = Number(values.duration);
let seed = Number(values.seed);
if (!Number.isFinite(durationSec) || durationSec < 0 || !Number.isInteger(seed)) {
  console.error('simulator: --duration must be a number of seconds >= 0 and --seed an integer');
  process.exit(2);
}

const forever = durationSec === 0;
do {
  const personas = buildPersonas(seededRandom(seed));
  const stats = await drive(personas, {
    target: values.target,
    durationMs: (forever ? 60 : durationSec) * 1000,
  });
  for (const [name, s] of stats) {
    console.log(
      `${name.padEnd(26)} requests=${s.requests} ok=${s.ok} blocked=${s.blocked} 429=${s.rateLimited} errors=${s.errors}`,
    );
  }
  seed++;
} while (forever);
