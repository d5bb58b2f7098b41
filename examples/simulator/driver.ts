import { Conversations } from './conversation.ts';
import type { PlannedRequest, Persona } from './personas.ts';

/** What happened to one persona's traffic. */
export interface PersonaStats {
  requests: number;
  ok: number;
  /** Refused by an input guard or cut by an output filter (HTTP 403). */
  blocked: number;
  /** Refused by the rate limiter (HTTP 429). */
  rateLimited: number;
  /** Anything else: 4xx/5xx or a network error. */
  errors: number;
}

export interface DriveOptions {
  /**
   * Base URL of the chat API, e.g. http://127.0.0.1:8080; several (replicas behind a load
   * balancer): each persona's requests go round-robin over them, so every replica sees a share
   * of every user.
   */
  target: string | string[];
  durationMs: number;
  model?: string;
  /** Called after every response, for progress displays. */
  onResponse?: (persona: Persona, request: PlannedRequest, status: number) => void;
  signal?: AbortSignal;
  /** Per-request timeout. */
  timeoutMs?: number;
}

/** Sends every persona's planned requests at their scheduled times; resolves when all are answered. */
export async function drive(personas: Persona[], options: DriveOptions): Promise<Map<string, PersonaStats>> {
  const stats = new Map<string, PersonaStats>();
  const schedule: Array<{ persona: Persona; request: PlannedRequest }> = [];
  for (const persona of personas) {
    stats.set(persona.name, { requests: 0, ok: 0, blocked: 0, rateLimited: 0, errors: 0 });
    for (const request of persona.requests) schedule.push({ persona, request });
  }
  schedule.sort((a, b) => a.request.at - b.request.at);

  const start = Date.now();
  const inFlight: Promise<void>[] = [];
  // A user's client waits for each answer before sending the next (as people and most bots
  // do), so one user's requests stay in order; only personas marked `concurrent` overlap.
  const lastByUser = new Map<string, Promise<void>>();
  const conversations = new Conversations();
  const targets = Array.isArray(options.target) ? options.target : [options.target];
  if (targets.length === 0) throw new Error('drive: at least one target');
  const nextTarget = new Map<string, number>();
  for (const { persona, request } of schedule) {
    if (options.signal?.aborted) break;
    const due = start + request.at * options.durationMs;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait, options.signal);
    const previous = persona.concurrent ? undefined : lastByUser.get(request.userId);
    const k = nextTarget.get(persona.name) ?? 0;
    nextTarget.set(persona.name, k + 1);
    const target = targets[k % targets.length]!;
    const sent = (previous ?? Promise.resolve())
      .then(() => send(request, target, options, conversations))
      .then((status) => {
        const s = stats.get(persona.name)!;
        s.requests++;
        if (status === 200) s.ok++;
        else if (status === 403) s.blocked++;
        else if (status === 429) s.rateLimited++;
        else s.errors++;
        options.onResponse?.(persona, request, status);
      });
    if (!persona.concurrent) lastByUser.set(request.userId, sent);
    inFlight.push(sent);
  }
  await Promise.all(inFlight);
  return stats;
}

/** One chat completion request; resolves with the HTTP status (0 for a network error). */
async function send(
  request: PlannedRequest,
  target: string,
  options: DriveOptions,
  conversations: Conversations,
): Promise<number> {
  const messages = conversations.messagesFor(request);
  const body: Record<string, unknown> = {
    model: options.model ?? 'gpt-4o-mini',
    messages,
    max_tokens: request.maxTokens,
  };
  if (request.tools) {
    body.tools = request.tools.map((name) => ({
      type: 'function',
      function: { name, description: name, parameters: { type: 'object', properties: {} } },
    }));
  }
  try {
    const response = await fetch(new URL('/v1/chat/completions', target), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-user-id': request.userId,
        'x-session-id': request.sessionId,
        'x-plan': request.plan,
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    if (response.status === 200 && request.conversation !== undefined) {
      conversations.answered(request, messages, await response.json());
    } else {
      await response.arrayBuffer();
    }
    return response.status;
  } catch {
    return 0;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
