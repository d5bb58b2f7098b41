/**
 * `text` cut to at most `max` UTF-16 units (unchanged when it fits), never inside a surrogate
 * pair: when the last unit kept would be a high surrogate, the cut moves before it. A plain
 * `slice` left the first half of an emoji at the end, a lone surrogate that JSON writes as
 * "\ud83d" and that no longer equals the id any other path cut. Every place that bounds user,
 * session and conversation ids (the SDK, core's JSONL reader, the detector's OTLP records, the
 * limiter's subjects) cuts with this one function, so an id cut on any path names the same user.
 */
export function cutId(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
