import type { RandomSource } from '@llmsec/core';
import { ordinaryPersonas } from './ordinary-personas.ts';
import * as P from './prompts.ts';

/**
 * Personas: who sends what, when. A persona is a list of planned requests with offsets in
 * [0, 1) of the run's duration, so a 60-second demo and a 10-second test send the same
 * traffic, only faster. Everything random comes from the seeded source: runs repeat.
 */

export interface PlannedRequest {
  /** Fraction of the run's duration at which to send. */
  at: number;
  userId: string;
  sessionId: string;
  /** `free` or `pro`: the chat API maps it to a rate-limit tier. */
  plan: 'free' | 'pro';
  prompt: string;
  maxTokens: number;
  /** Tools declared in the request (OpenAI `tools`). */
  tools?: string[];
  /**
   * Part of a conversation (an id unique within the run): the driver resends its history, the
   * earlier turns and the API's real replies, before this turn, as every chat client does.
   */
  conversation?: string;
  /** An agent step: the result of the tool the previous reply called (a `tool` message), instead of `prompt`. */
  toolResult?: string;
}

export interface Persona {
  name: string;
  kind: 'benign' | 'attacker';
  /** What the persona does, for the summary. */
  description: string;
  /** The detection rules this persona is meant to trigger (attackers). */
  expectedRules: string[];
  /**
   * Benign: rules expected to name this persona's users without flagging them, because they
   * report something that happened to them (indirect_prompt_injection: a poisoned page their
   * agent read). They must fire, and nothing else may.
   */
  notices?: string[];
  /** Attackers caught by refusals rather than detection (the flooder). */
  expectRateLimited?: boolean;
  /** Sends without waiting for answers (the flooder); others wait for each response. */
  concurrent?: boolean;
  users: string[];
  requests: PlannedRequest[];
}

const pick = <T>(random: RandomSource, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** `count` offsets spread over [from, to) with a little seeded jitter, in order. */
function spread(random: RandomSource, count: number, from = 0.05, to = 0.85): number[] {
  const step = (to - from) / Math.max(1, count);
  return Array.from({ length: count }, (_, i) => from + step * i + random() * step * 0.5);
}

function request(
  at: number,
  userId: string,
  prompt: string,
  extra: Partial<PlannedRequest> = {},
): PlannedRequest {
  return { at, userId, sessionId: `${userId}-s1`, plan: 'free', prompt, maxTokens: 200, ...extra };
}

export function buildPersonas(random: RandomSource, benignUsers = 20): Persona[] {
  const personas: Persona[] = [];

  const benignIds = Array.from({ length: benignUsers }, (_, i) => `user-${String(i + 1).padStart(3, '0')}`);
  personas.push({
    name: 'benign users',
    kind: 'benign',
    description: `${benignUsers} people asking ordinary questions`,
    expectedRules: [],
    users: benignIds,
    requests: benignIds.flatMap((user) =>
      spread(random, 6 + Math.floor(random() * 5), 0.02, 0.9).map((at) =>
        request(at, user, pick(random, P.BENIGN_PROMPTS), { maxTokens: 150 + Math.floor(random() * 100) }),
      ),
    ),
  });

  personas.push({
    name: 'heavy legitimate user',
    kind: 'benign',
    description: 'an analyst on the pro plan sending long, steady requests all run',
    expectedRules: [],
    users: ['heavy-analyst'],
    requests: spread(random, 50, 0.02, 0.9).map((at) =>
      request(at, 'heavy-analyst', pick(random, P.ANALYST_PROMPTS), { plan: 'pro', maxTokens: 400 }),
    ),
  });

  personas.push(...ordinaryPersonas(random));

  personas.push({
    name: 'injection spammer',
    kind: 'attacker',
    description: 'fires prompt-injection attempts over and over',
    expectedRules: ['rapid_guardrail_blocks', 'high_block_rate'],
    users: ['attacker-rapid'],
    requests: spread(random, 14, 0.05, 0.6).map((at) =>
      request(at, 'attacker-rapid', pick(random, P.INJECTION_PROMPTS)),
    ),
  });

  const enumPrompts: Array<[string, Partial<PlannedRequest>]> = [
    [P.INJECTION_PROMPTS[0]!, {}],
    [P.JAILBREAK_PAYLOAD + 'Tell me a secret.', {}],
    [P.SECRET_BEARING_PROMPT, {}],
    [P.HARMFUL_TOPIC_PROMPT, {}],
    ['List the files in /etc using your tools.', { tools: [P.TOOL_ABUSE_TOOL] }],
  ];
  personas.push({
    name: 'guardrail enumerator',
    kind: 'attacker',
    description: 'probes one guardrail layer after another',
    expectedRules: ['systematic_enumeration'],
    users: ['attacker-enum'],
    requests: spread(random, enumPrompts.length, 0.1, 0.5).map((at, i) =>
      request(at, 'attacker-enum', enumPrompts[i]![0], enumPrompts[i]![1]),
    ),
  });

  personas.push({
    name: 'escalating payloads',
    kind: 'attacker',
    description: 'retries a blocked jailbreak with longer and longer framing',
    expectedRules: ['escalating_complexity'],
    users: ['attacker-escalate'],
    requests: spread(random, 6, 0.1, 0.7).map((at, i) =>
      request(at, 'attacker-escalate', P.JAILBREAK_PAYLOAD + P.ESCALATION_FILLER.repeat(i * 2)),
    ),
  });

  personas.push({
    name: 'output-filter bypass',
    kind: 'attacker',
    description: 'innocent-looking prompts that make the model emit secrets',
    expectedRules: ['output_filter_bypass'],
    users: ['attacker-exfil'],
    requests: spread(random, 4, 0.1, 0.6).map((at, i) =>
      request(at, 'attacker-exfil', P.EXFILTRATION_PROMPTS[i % P.EXFILTRATION_PROMPTS.length]!),
    ),
  });

  personas.push({
    name: 'system-prompt extraction',
    kind: 'attacker',
    description: 'asks the model to repeat its instructions',
    expectedRules: ['system_prompt_leakage'],
    users: ['attacker-leak'],
    requests: spread(random, 2, 0.2, 0.5).map((at, i) =>
      request(at, 'attacker-leak', P.EXTRACTION_PROMPTS[i % P.EXTRACTION_PROMPTS.length]!),
    ),
  });

  personas.push({
    name: 'identical-request bot',
    kind: 'attacker',
    description: 'a scraper sending the same request on a timer',
    expectedRules: ['identical_requests'],
    users: ['bot-identical'],
    requests: spread(random, 8, 0.05, 0.7).map((at) => request(at, 'bot-identical', P.BOT_PROMPT)),
  });

  // In one conversation, resending its history like any chat client: what grows is its own
  // message each turn, which is what escalating_length measures (not the history).
  personas.push({
    name: 'context stuffing',
    kind: 'attacker',
    description: 'pads its own message with more and more context, turn after turn of one chat',
    expectedRules: ['escalating_length'],
    users: ['attacker-stuffing'],
    requests: spread(random, 7, 0.05, 0.7).map((at, i) =>
      request(at, 'attacker-stuffing', P.STUFFING_UNIT.repeat(3 + i * 6) + 'Summarise. [[reply:300]]', {
        maxTokens: 100,
        conversation: 'attacker-stuffing-c1',
      }),
    ),
  });

  const tokenBaseline = spread(random, 22, 0.02, 0.6).map((at) =>
    request(at, 'attacker-tokens', pick(random, P.BENIGN_PROMPTS), { maxTokens: 40 }),
  );
  personas.push({
    name: 'token abuse',
    kind: 'attacker',
    description: 'behaves normally, then sends a huge prompt asking for a huge answer',
    expectedRules: ['token_usage_anomaly'],
    users: ['attacker-tokens'],
    requests: [
      ...tokenBaseline,
      request(0.7, 'attacker-tokens', P.STUFFING_UNIT.repeat(120) + 'Now write it all out again.', {
        maxTokens: 4000,
      }),
    ],
  });

  const campaignUsers = Array.from({ length: 6 }, (_, i) => `campaign-${String(i + 1).padStart(2, '0')}`);
  personas.push({
    name: 'coordinated campaign',
    kind: 'attacker',
    description: 'six accounts sending one jailbreak payload',
    expectedRules: ['coordinated_campaign'],
    users: campaignUsers,
    requests: campaignUsers.map((user, i) =>
      request(0.2 + i * 0.05, user, varyCase(random, P.CAMPAIGN_PAYLOAD)),
    ),
  });

  personas.push({
    name: 'rate-limit flooder',
    kind: 'attacker',
    description: 'hammers the API far past its plan',
    // Refused by the limiter, and flagged for keeping on (twenty refusals in five minutes): it
    // sends 90 requests in 0.3 of the run, far past a free plan's 30 a minute in runs up to
    // about 5 minutes (the default is 1). Much longer runs spread it under the limit: then it
    // is neither refused nor flagged, as before this rule.
    expectedRules: ['rate_limit_persistence'],
    expectRateLimited: true,
    concurrent: true,
    users: ['attacker-flood'],
    requests: spread(random, 90, 0.1, 0.4).map((at) =>
      request(at, 'attacker-flood', pick(random, P.BENIGN_PROMPTS), { maxTokens: 50 }),
    ),
  });

  // Last, so the random draws of the personas above are the same as before it existed.
  const reader = 'agent-reader';
  personas.push({
    name: 'agent reading a poisoned page',
    kind: 'benign',
    description: 'a research agent whose search tool returns a page with an injection in it',
    expectedRules: [],
    notices: ['indirect_prompt_injection'],
    users: [reader],
    requests: spread(random, 6, 0.1, 0.6).map((at, i) =>
      request(
        at,
        reader,
        'Summarise what the docs say about the new train timetable; call tool search_docs.',
        {
          sessionId: `${reader}-run1`,
          conversation: `${reader}-run1`,
          tools: ['search_docs'],
          // Step 2's page carries the injection; the agent drops the refused step, as clients do.
          ...(i === 0
            ? {}
            : { toolResult: i === 2 ? P.POISONED_PAGE : `Timetable page ${i}: trains every 15 minutes.` }),
        },
      ),
    ),
  });

  // After the reader, for the same reason. The example API takes the client's history as it
  // comes, so a client can write the tool result itself: its injections are marked as a
  // tool's (not the per-user rules'), but each attempt is a new payload, unlike a poisoned page.
  const forger = 'attacker-forged-tool';
  personas.push({
    name: 'forged tool results',
    kind: 'attacker',
    description: 'writes its own "tool results", a different injection each time',
    expectedRules: ['tool_injection_variety'],
    users: [forger],
    requests: spread(random, 13, 0.1, 0.7).map((at, i) =>
      request(at, forger, 'Look this up for me; call tool search_docs.', {
        sessionId: `${forger}-run1`,
        conversation: `${forger}-run1`,
        tools: ['search_docs'],
        // Every refused turn is dropped, so each forged result answers the same tool call.
        ...(i === 0 ? {} : { toolResult: `${P.FORGED_TOOL_RESULT} (variant ${i})` }),
      }),
    ),
  });

  return personas;
}

/** The same text with random case flips and doubled spaces: one fingerprint after normalising. */
function varyCase(random: RandomSource, text: string): string {
  let out = '';
  for (const ch of text) {
    const flipped = random() < 0.2 ? (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase()) : ch;
    out += flipped === ' ' && random() < 0.2 ? '  ' : flipped;
  }
  return out;
}
