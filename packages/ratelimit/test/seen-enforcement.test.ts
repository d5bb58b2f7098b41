import { describe, expect, it } from 'vitest';
import { LEVEL_BANNED, LEVEL_BLOCKED } from '../src/enforcement.ts';
import { subjectTag } from '../src/keys.ts';
import { SeenEnforcement } from '../src/seen-enforcement.ts';

describe('SeenEnforcement', () => {
  it('holds at most its cap, the subject noted longest ago going first', () => {
    const seen = new SeenEnforcement(3);
    seen.note('a', LEVEL_BANNED, 100);
    seen.note('b', LEVEL_BLOCKED, 100);
    seen.note('c', LEVEL_BANNED, 100);
    seen.note('a', LEVEL_BANNED, 200); // noted again: now the youngest
    seen.note('d', LEVEL_BANNED, 100);
    expect(seen.size).toBe(3);
    expect(seen.at('b', 0)).toBeUndefined();
    expect(seen.at('a', 0)).toEqual({ level: LEVEL_BANNED, untilMs: 200 });
    expect(seen.at('c', 0)).toBeDefined();
    expect(seen.at('d', 0)).toBeDefined();
  });

  it('stays at its cap under 100,000 invented subjects', () => {
    const seen = new SeenEnforcement();
    for (let i = 0; i < 100_000; i++) seen.note(`user-${i}`, LEVEL_BLOCKED, 1_000);
    expect(seen.size).toBe(10_000);
  });

  it('keeps a ban through 100,000 invented subjects blocked after it (blocks go before bans)', () => {
    // Refusals alone block a subject (refusalWeight, blockedAt); bans take detection evidence or
    // an operator. An attacker with many addresses or accounts blocks throwaway subjects, and
    // each refusal of one is noted: with the oldest going first, 10,000 of them pushed out a
    // ban noted earlier, and the banned client was admitted once Redis went away.
    const seen = new SeenEnforcement();
    seen.note('mallory', LEVEL_BANNED, 10_000);
    for (let i = 0; i < 100_000; i++) seen.note(`ip:2001:db8:${i}::`, LEVEL_BLOCKED, 1_000);
    expect(seen.size).toBe(10_000);
    expect(seen.at('mallory', 0)).toEqual({ level: LEVEL_BANNED, untilMs: 10_000 });
    // The newest blocks are the ones kept.
    expect(seen.at('ip:2001:db8:99999::', 0)?.level).toBe(LEVEL_BLOCKED);
    expect(seen.at('ip:2001:db8:0::', 0)).toBeUndefined();
  });

  it('full of bans, keeps them and not a new block; a new ban displaces the oldest ban', () => {
    const seen = new SeenEnforcement(2);
    seen.note('a', LEVEL_BANNED, 100);
    seen.note('b', LEVEL_BANNED, 100);
    seen.note('eve', LEVEL_BLOCKED, 100);
    expect(seen.at('eve', 0)).toBeUndefined();
    expect(seen.at('a', 0)?.level).toBe(LEVEL_BANNED);
    seen.note('c', LEVEL_BANNED, 100);
    expect(seen.size).toBe(2);
    expect(seen.at('a', 0)).toBeUndefined();
    expect(seen.at('c', 0)?.level).toBe(LEVEL_BANNED);
    // A subject blocked then banned (or the reverse) is held once, at its latest level.
    seen.note('c', LEVEL_BLOCKED, 50);
    expect(seen.at('c', 0)).toEqual({ level: LEVEL_BLOCKED, untilMs: 50 });
    expect(seen.size).toBe(2);
  });

  it('drops an entry once its end has passed, and a forgotten one', () => {
    const seen = new SeenEnforcement();
    seen.note('eve', LEVEL_BLOCKED, 1_000);
    seen.note('walt', LEVEL_BANNED, 5_000);
    expect(seen.at('eve', 999)?.level).toBe(LEVEL_BLOCKED);
    expect(seen.at('eve', 1_000)).toBeUndefined();
    expect(seen.size).toBe(1);
    seen.forget('walt');
    expect(seen.at('walt', 0)).toBeUndefined();
  });
});

describe("SeenEnforcement: the fleet's bans (read from Redis's ban index)", () => {
  it('holds a fleet ban through 100,000 blocks and 20,000 bans noted here (held apart, not displaced)', () => {
    // The index's copy is replaced whole at each read and bounded by the reader (the bans
    // ending last); what this process notes has its own cap. An attacker who gets thousands of
    // throwaway subjects blocked or banned here cannot push the fleet's ban of mallory out.
    const seen = new SeenEnforcement();
    seen.holdFleet(new Map([['mallory', 50_000]]));
    for (let i = 0; i < 100_000; i++) seen.note(`ip:2001:db8:${i}::`, LEVEL_BLOCKED, 1_000);
    for (let i = 0; i < 20_000; i++) seen.note(`sock-${i}`, LEVEL_BANNED, 1_000);
    expect(seen.size).toBe(10_001);
    expect(seen.at('mallory', 0)).toEqual({ level: LEVEL_BANNED, untilMs: 50_000 });
  });

  it('looks a long subject up by its key tag, lets a fleet ban go at its end, and drops a subject lifted here', () => {
    const seen = new SeenEnforcement();
    const long = 'u'.repeat(200);
    seen.holdFleet(
      new Map([
        [subjectTag(long), 1_000],
        ['walt', 1_000],
        ['trent', 1_000],
      ]),
    );
    expect(seen.at(long, 0)?.level).toBe(LEVEL_BANNED);
    expect(seen.at('trent', 999)?.untilMs).toBe(1_000);
    expect(seen.at('trent', 1_000)).toBeUndefined();
    seen.forget('walt'); // the store admitted walt: the fleet's copy waits for the next read
    expect(seen.at('walt', 0)?.level).toBe(LEVEL_BANNED);
    seen.lifted('walt'); // lifted through this limiter
    expect(seen.at('walt', 0)).toBeUndefined();
    // A block noted here that ended does not hide the fleet's ban of the same subject.
    seen.note('x', LEVEL_BLOCKED, 10);
    seen.holdFleet(new Map([['x', 1_000]]));
    expect(seen.at('x', 500)).toEqual({ level: LEVEL_BANNED, untilMs: 1_000 });
  });
});
