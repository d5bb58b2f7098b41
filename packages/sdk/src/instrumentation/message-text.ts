/**
 * The text of one request message as the input guards read it, and the message with a guard's
 * replacement text written back. Tool results are input too, and the usual route of indirect
 * prompt injection (a fetched page, an email, a retrieved document), so besides text parts the
 * reader takes:
 * - Anthropic `tool_result` blocks (and blocks like `search_result`): their `content`, a string
 *   or a list of blocks whose `text` is read (images are not text);
 * - Responses API items with an `output` (`function_call_output`, `custom_tool_call_output`,
 *   ...): a string, or a list of parts whose `text` is read;
 * - OpenAI chat `tool` / `function` messages: their `content` (string or text parts).
 *
 * The shapes are fixed (at most two list levels: a message's parts, a tool result's blocks),
 * so reading is linear in the message and needs no recursion or node cap; the guards' own
 * per-message caps apply to the joined text as to any other message.
 *
 * A text slot is one string the reader took. Slots are joined with '\n', in order: the
 * message's `content` (string, or each part's `text`, or each part's `content`), then its
 * `output`.
 */

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** Calls `take` with each text slot of a content / output value, in order. */
function eachSlot(value: unknown, take: (text: string) => void): void {
  if (typeof value === 'string') {
    take(value);
    return;
  }
  if (!Array.isArray(value)) return;
  for (const part of value) {
    const p = asObj(part);
    if (p === undefined) continue;
    if (typeof p.text === 'string') take(p.text);
    else if (typeof p.content === 'string') take(p.content);
    else if (Array.isArray(p.content)) {
      for (const inner of p.content) {
        const t = asObj(inner)?.text;
        if (typeof t === 'string') take(t);
      }
    }
  }
}

/** The guards' text of a raw message: its content's and output's text slots joined with '\n'. */
export function messageText(message: unknown): string {
  const o = asObj(message);
  if (o === undefined) return '';
  // The common message is one string: no joining.
  if (typeof o.content === 'string' && o.output === undefined) return o.content;
  let out = '';
  let first = true;
  const take = (t: string): void => {
    out = first ? t : `${out}\n${t}`;
    first = false;
  };
  eachSlot(o.content, take);
  eachSlot(o.output, take);
  return out;
}

/**
 * The message with `text` (a guard's replacement for messageText(message)) written back, as a
 * new object (the original is not mutated); the message itself when nothing changed. The
 * structure is kept (tool_use_id, call_id, images, block types): each slot gets its own lines
 * of `text` when the replacement has as many lines as the original (a redaction within lines,
 * the usual case); otherwise the first slot gets all of `text` and the others are emptied, so
 * no original text survives the rewrite.
 */
export function withMessageText(message: unknown, text: string): unknown {
  const o = asObj(message);
  if (o === undefined) return message;
  const slots: string[] = [];
  eachSlot(o.content, (t) => slots.push(t));
  eachSlot(o.output, (t) => slots.push(t));
  if (slots.join('\n') === text) return message;
  const pieces = split(slots, text);
  let at = 0;
  const next = (): string => pieces[at++] ?? '';
  const out: Obj = { ...o };
  if (slots.length === 0) {
    // Nothing to rewrite in place (a message with no text): its content becomes the text.
    out.content = text;
    return out;
  }
  if ('content' in o) out.content = rewrite(o.content, next);
  if ('output' in o) out.output = rewrite(o.output, next);
  return out;
}

/** `text` cut into one piece per slot: by the slots' line counts when the line count matches. */
function split(slots: readonly string[], text: string): string[] {
  if (slots.length === 1) return [text];
  const lines = text.split('\n');
  const counts = slots.map((s) => countLines(s));
  if (counts.reduce((a, b) => a + b, 0) !== lines.length) return [text, ...slots.slice(1).map(() => '')];
  const out: string[] = [];
  let at = 0;
  for (const n of counts) {
    out.push(lines.slice(at, at + n).join('\n'));
    at += n;
  }
  return out;
}

function countLines(s: string): number {
  let n = 1;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** A copy of a content / output value with each text slot replaced by the next piece, same walk as eachSlot. */
function rewrite(value: unknown, next: () => string): unknown {
  if (typeof value === 'string') return next();
  if (!Array.isArray(value)) return value;
  return value.map((part) => {
    const p = asObj(part);
    if (p === undefined) return part;
    if (typeof p.text === 'string') return { ...p, text: next() };
    if (typeof p.content === 'string') return { ...p, content: next() };
    if (Array.isArray(p.content)) {
      return {
        ...p,
        content: p.content.map((inner) => {
          const i = asObj(inner);
          return i !== undefined && typeof i.text === 'string' ? { ...i, text: next() } : inner;
        }),
      };
    }
    return part;
  });
}
