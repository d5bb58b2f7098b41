/**
 * Attribute values the decoders dropped (decoded as null) for being over maxStringBytes, and
 * event strings cut to core's field caps (service/record-events.ts: capEventFields), counted
 * so that the receivers can report how many a request lost (ReceiveReport.droppedValues) and the
 * service can show it (llmsec.detector.values.dropped): a value dropped silently would make a
 * too-low cap look like senders that capture nothing.
 *
 * One process-wide count, read before and after a decode: decoding is synchronous, so nothing
 * else decodes in between, and the difference is that request's, whatever other receivers run
 * in the process. Cheaper than a counter threaded through every decoder function.
 */
export const droppedValues = { count: 0 };
