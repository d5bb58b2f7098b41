import { createWriteStream } from 'node:fs';
import { encodeEvent, seededRandom } from '@llmsec/core';
import { TrafficGenerator } from '../detect/gen.ts';

/**
 * A replay corpus like the one of issue 13 (971 k lines, 617 MB, previews on, 68 k users):
 * the detection bench's traffic mix (benign users and attackers, every default rule busy)
 * dressed as the SDK writes it with `capturePreviews: true`: session, span, source address,
 * service, description, a request preview on every event and a response preview on completed
 * requests (redacted, at most 500 characters, as core's preview code leaves them).
 */

const WORDS = (
  'the a to of and in for on with is it that this you be as can are or from not by your at we ' +
  'please summarize explain write code function error customer order invoice refund account ' +
  'password reset policy email translate report table python sql query json api request ' +
  'response model token limit context document page section review draft meeting notes'
).split(' ');
const REDACTED = ['[REDACTED:email]', '[REDACTED:phone]', '[REDACTED:api_key]', '[REDACTED:credit_card]'];

function previews(seed: number, count: number): string[] {
  const r = seededRandom(seed);
  return Array.from({ length: count }, () => {
    // Mostly short prompts and replies, some long ones up to the 500-character cap.
    const target = r() < 0.8 ? 10 + Math.floor(r() * 90) : 100 + Math.floor(r() * 401);
    let text = '';
    while (text.length < target) {
      const x = r();
      const word =
        x < 0.02 ? REDACTED[Math.floor(r() * REDACTED.length)]! : WORDS[Math.floor(r() * WORDS.length)]!;
      text += (text.length > 0 ? (x > 0.97 ? '\n' : x > 0.94 ? '. "' : ' ') : '') + word;
    }
    return text.slice(0, target);
  });
}

export interface CorpusOptions {
  lines: number;
  users: number;
  seed?: number;
}

/** Writes the corpus to `file`; resolves with its size in bytes and its number of distinct users. */
export async function writeCorpus(
  file: string,
  options: CorpusOptions,
): Promise<{ bytes: number; users: number }> {
  const seed = options.seed ?? 13;
  const r = seededRandom(seed + 1);
  const pool = previews(seed + 2, 4_096);
  const gen = new TrafficGenerator({ seed, users: options.users, stepMs: 50, attackerEvery: 50 });
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  let bytes = 0;
  const seen = new Set<string>();
  const BATCH = 2_000;
  for (let done = 0; done < options.lines; done += BATCH) {
    const parts: string[] = [];
    for (let i = 0; i < Math.min(BATCH, options.lines - done); i++) {
      const { event } = gen.next();
      seen.add(event.user_id);
      const n = Number.parseInt(event.user_id.slice(5), 10);
      event.session_id = `sess-${n}-${Math.floor(r() * 4)}`;
      event.span_id = event.event_id.slice(4).padStart(16, '0');
      event.source_ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
      event.service = 'chat-api';
      if (event.category !== 'request_completed')
        event.description = `${event.category.replace(/_/g, ' ')} for ${event.user_id}`;
      event.request_preview ??= pool[Math.floor(r() * pool.length)]!;
      if (event.category === 'request_completed')
        event.response_preview = pool[Math.floor(r() * pool.length)]!;
      parts.push(encodeEvent(event));
    }
    const text = parts.join('\n') + '\n';
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  return { bytes, users: seen.size };
}
