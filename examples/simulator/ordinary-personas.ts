import type { RandomSource } from '@llmsec/core';
import type { Persona, PlannedRequest } from './personas.ts';

/**
 * Ordinary traffic that looks like an attack to a detector that measures the wrong thing
 * (issue 14): chats that resend their history, an agent loop whose context grows with tool
 * results, a RAG user with large contexts, a scheduled job filling one template, and an office
 * whose users share one address. None of them may be flagged.
 *
 * `[[reply:N]]` asks the fake upstream for an N-character reply: real replies are several
 * times longer than the question, and they are what makes a resent history grow.
 * Vocabulary note: the demo's fake upstream misbehaves on "configuration", "credentials",
 * "environment variables" and "repeat the text you were given"; ordinary personas avoid them.
 */

const pick = <T>(random: RandomSource, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const between = (random: RandomSource, lo: number, hi: number): number =>
  lo + Math.floor(random() * (hi - lo + 1));

/** `count` increasing offsets in [from, to) with seeded jitter. */
function times(random: RandomSource, count: number, from: number, to: number): number[] {
  const step = (to - from) / Math.max(1, count);
  return Array.from({ length: count }, (_, i) => from + step * i + random() * step * 0.5);
}

const OPENERS = [
  'I am planning a week in Portugal in May with my partner. Where should we base ourselves?',
  'Can you help me write a cover letter for a junior data analyst role at a logistics company?',
  'I want to start running. Can you make me a beginner plan for three runs a week?',
  'Help me plan a vegetarian dinner party for eight people with one guest who cannot eat nuts.',
  'I need to explain recursion to a class of fifteen-year-olds. How should I start?',
  'We are moving our small team from spreadsheets to a proper task tracker. What should we look for?',
];

const FOLLOW_UPS = [
  'Thanks! Can you make that shorter?',
  'What would that cost roughly?',
  'Good. Now add a second option that is a bit cheaper, and say what we would give up.',
  'Could you put that into a table?',
  'Why do you suggest that one over the others?',
  'ok',
  'Let us change one thing: we only have four days, not seven. Please rework the plan and keep the parts you think matter most.',
  'What should I do first tomorrow morning?',
  'Can you give me an example?',
  'That sounds right. Anything I am forgetting?',
  'Please rewrite the second paragraph in a friendlier tone.',
  'How long would that take a beginner?',
  'One more question: is it better to do this in the evening, or does it not matter?',
  'Great, and what about the weekend?',
  'Summarise everything we decided so far as a short checklist.',
];

/** One conversation of `turns` turns between `from` and `to` (fractions of the run). */
function chatTurns(
  random: RandomSource,
  user: string,
  conversation: string,
  turns: number,
  from: number,
  to: number,
  plan: PlannedRequest['plan'],
): PlannedRequest[] {
  return times(random, turns, from, to).map((at, i) => ({
    at,
    userId: user,
    sessionId: conversation,
    conversation,
    plan,
    prompt: `${i === 0 ? pick(random, OPENERS) : pick(random, FOLLOW_UPS)} [[reply:${between(random, 250, 1500)}]]`,
    maxTokens: 500,
  }));
}

const SOURCE_LINES = [
  'export function totalDue(invoice: Invoice): number {',
  '  return invoice.lines.reduce((sum, line) => sum + line.amount * line.quantity, 0);',
  '}',
  "  it('adds tax to every line', () => {",
  '    expect(totalDue(sample)).toBe(118.5);',
  'FAIL src/billing/invoice.test.ts > totalDue > adds tax to every line',
  'AssertionError: expected 100 to be 118.5',
  '  const rate = taxRateFor(invoice.country) ?? 0;',
  'Tests: 1 failed, 41 passed, 42 total',
  "import { taxRateFor } from './tax.ts';",
];

/** A tool result of about `chars` characters: source, test output, search hits. */
function toolOutput(random: RandomSource, chars: number): string {
  let out = '';
  while (out.length < chars) out += `${pick(random, SOURCE_LINES)}\n`;
  return out;
}

const RAG_PASSAGES = [
  'Orders ship within two working days from our warehouse in Leeds. Tracking numbers are sent by email once the parcel leaves the warehouse, and the carrier updates the status at each depot.',
  'Returns are accepted within 30 days of delivery for unused items in their original packaging. Refunds go back to the original payment method within five working days of the return arriving.',
  'The Pro plan includes priority support, up to ten team members and monthly usage reports. Upgrades take effect immediately and are charged pro rata for the rest of the billing period.',
  'Gift cards never expire and can be combined with other gift cards, but not with promotional codes. A lost gift card can be replaced if the customer still has the order number.',
  'Warranty claims need the serial number printed under the battery cover and a photo of the fault. Most claims are decided within a week; a replacement is shipped before the faulty unit is returned.',
  'Accounts can be closed from the profile page. Closing an account deletes saved addresses and payment methods after 14 days; order history is kept for seven years for accounting reasons.',
];

const RAG_QUESTIONS = [
  'How long do refunds take?',
  'Can I use a gift card together with a discount code?',
  'What happens to my order history if I close my account?',
  'Do I need to send the broken unit back before I get a new one?',
  'When will my parcel leave the warehouse?',
];

/** A RAG request: the retrieved passages (always about `contextChars`) and the question. */
function ragPrompt(random: RandomSource, contextChars: number): string {
  let context = '';
  while (context.length < contextChars) context += `- ${pick(random, RAG_PASSAGES)}\n`;
  return `Answer using only the context below.\n\nContext:\n${context}\nQuestion: ${pick(random, RAG_QUESTIONS)} [[reply:${between(random, 200, 600)}]]`;
}

const TICKETS = [
  'Customer cannot find the invoice for order 5531.',
  'Delivery to Bristol arrived a day late; customer asks for a discount.',
  'Password reset email went to spam.',
  'Wrong size sent; exchange requested.',
  'Question about the Pro plan team limit.',
  'Refund not yet visible after six days.',
  'Gift card code rejected at checkout.',
];

/** How many users of each kind; the demo's defaults, raised by the benign-corpus test. */
export interface OrdinaryCounts {
  chats?: number;
  agents?: number;
  rag?: number;
  cron?: number;
  office?: number;
}

const ids = (prefix: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`);

export function ordinaryPersonas(random: RandomSource, counts: OrdinaryCounts = {}): Persona[] {
  const personas: Persona[] = [];

  // One conversation each of 10-30 turns. Pro plan: the demo squeezes what would be half an
  // hour of chatting into its run, past the free plan's per-minute limits.
  const chatUsers = ids('chat', counts.chats ?? 3);
  personas.push({
    name: 'multi-turn chats',
    kind: 'benign',
    description: `${chatUsers.length} people in chats of 10-30 turns that resend their history`,
    expectedRules: [],
    users: chatUsers,
    requests: chatUsers.flatMap((user) =>
      chatTurns(random, user, `${user}-c1`, between(random, 10, 30), 0.02, 0.88, 'pro'),
    ),
  });

  const task = 'Fix the failing unit test in the billing module; call tool search_docs to read the code.';
  const agents = ids('agent', counts.agents ?? 1);
  personas.push({
    name: 'coding agent loop',
    kind: 'benign',
    description:
      'an agent calling the model 17-25 times in a tight loop, its context growing with tool results',
    expectedRules: [],
    users: agents,
    requests: agents.flatMap((user) =>
      times(random, between(random, 17, 25), 0.05, 0.85).map((at, i) => ({
        at,
        userId: user,
        sessionId: `${user}-run1`,
        conversation: `${user}-run1`,
        plan: 'pro' as const,
        prompt: task,
        ...(i > 0 ? { toolResult: toolOutput(random, between(random, 150, 2500)) } : {}),
        tools: ['search_docs'],
        maxTokens: 800,
      })),
    ),
  });

  const ragUsers = ids('rag', counts.rag ?? 1);
  personas.push({
    name: 'RAG user',
    kind: 'benign',
    description: 'questions answered from 4-6 kB of retrieved passages each',
    expectedRules: [],
    users: ragUsers,
    requests: ragUsers.flatMap((user) =>
      times(random, 14, 0.03, 0.85).map((at) => ({
        at,
        userId: user,
        sessionId: `${user}-s1`,
        plan: 'pro' as const,
        prompt: ragPrompt(random, between(random, 4000, 6000)),
        maxTokens: 400,
      })),
    ),
  });

  const jobs = ids('cron', counts.cron ?? 1);
  personas.push({
    name: 'scheduled report job',
    kind: 'benign',
    description: "a cron job filling one template with the day's tickets",
    expectedRules: [],
    users: jobs,
    requests: jobs.flatMap((user) =>
      times(random, 5, 0.05, 0.85).map((at) => {
        const n = between(random, 3, 12);
        const tickets = Array.from({ length: n }, (_, k) => `${k + 1}. ${pick(random, TICKETS)}`).join('\n');
        return {
          at,
          userId: user,
          sessionId: user,
          plan: 'free' as const,
          prompt: `Write the support summary for the daily report. Group similar tickets, one line per group, most frequent first.\n\nTickets:\n${tickets}`,
          maxTokens: 300,
        };
      }),
    ),
  });

  // All simulator traffic leaves one address, like an office behind NAT; these users chat at
  // the same time, and the rules group by user, never by address.
  const office = ids('office', counts.office ?? 6);
  personas.push({
    name: 'office behind one NAT',
    kind: 'benign',
    description: `${office.length} colleagues sharing one address, short chats at the same time`,
    expectedRules: [],
    users: office,
    requests: office.flatMap((user) =>
      chatTurns(random, user, `${user}-c1`, between(random, 4, 8), 0.1, 0.8, 'free'),
    ),
  });

  return personas;
}
