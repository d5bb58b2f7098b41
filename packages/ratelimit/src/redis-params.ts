/**
 * The parameters RedisStore's acquire and settle scripts take, per combination of tier limit
 * vectors and enforcement parameters: packed as little-endian doubles (built once and cached,
 * so the Buffer itself identifies the combination), and for the first combinations a script
 * of its own with them written in as constants.
 */
import type { LimitVector } from './dimensions.ts';
import type { EnforcementParams } from './enforcement.ts';
import { bakedAcquireLua, bakedSettleLua } from './redis-lua.ts';
import {
  leanArgs,
  pairAcquireLua,
  pairSettleLua,
  singleAcquireLua,
  singleSettleLua,
} from './redis-lua-single.ts';
import { shaScript, type ShaScript } from './redis-script.ts';
import type { AcquireOp, SettleOp } from './store.ts';

/**
 * Tier combinations that get their own script with the parameters written in; past it the
 * packed-parameter scripts serve the rest. Tiers are few, so this is rarely reached.
 */
const MAX_BAKED_SCRIPTS = 64;

export class ScriptParams {
  /** Packed parameters -> their baked script. */
  private readonly bakedScripts = new WeakMap<Buffer, ShaScript>();
  private bakedCount = 0;
  private readonly packCache = new WeakMap<EnforcementParams, Map<string, Buffer>>();
  private readonly settleCache = new WeakMap<EnforcementParams, Map<string, Buffer>>();
  private readonly vectorIds = new WeakMap<LimitVector, number>();
  private nextVectorId = 0;
  private lastAcquire:
    { limits: LimitVector; enforcement: EnforcementParams; leaseTtlMs: number; buf: Buffer } | undefined;
  private lastSettle:
    { limits: LimitVector; enforcement: EnforcementParams; factor: number; buf: Buffer } | undefined;

  /**
   * The script for a combination's packed parameters: its own with the parameters as
   * constants (generated the first time it is seen), or undefined past MAX_BAKED_SCRIPTS.
   * Called by SHA (content-addressed: stores sharing one client share identical scripts).
   */
  baked(params: Buffer, kind: 'Acquire' | 'Settle', leaseTtlMs: number): ShaScript | undefined {
    const known = this.bakedScripts.get(params);
    if (known !== undefined || this.bakedCount >= MAX_BAKED_SCRIPTS) return known;
    const values: number[] = [];
    for (let at = 0; at < params.length; at += 8) values.push(params.readDoubleLE(at));
    const script = shaScript(bakedLua(kind, values, leaseTtlMs), leanArgs(values));
    this.bakedCount++;
    this.bakedScripts.set(params, script);
    return script;
  }

  /**
   * Enforcement parameters, lease TTL and limits as packed doubles, built once per combination
   * of limit vectors (tiers) and enforcement parameters: the script unpacks them in one call.
   */
  acquire(op: AcquireOp): Buffer {
    // One-entry cache in front of the map: nearly every call repeats the previous tier.
    const last = this.lastAcquire;
    if (
      last !== undefined &&
      op.subjects.length === 1 &&
      last.limits === op.subjects[0]!.limits &&
      last.enforcement === op.enforcement &&
      last.leaseTtlMs === op.leaseTtlMs
    ) {
      return last.buf;
    }
    const buf = this.acquireSlow(op);
    if (op.subjects.length === 1) {
      this.lastAcquire = {
        limits: op.subjects[0]!.limits,
        enforcement: op.enforcement,
        leaseTtlMs: op.leaseTtlMs,
        buf,
      };
    }
    return buf;
  }

  private acquireSlow(op: AcquireOp): Buffer {
    let byParams = this.packCache.get(op.enforcement);
    if (byParams === undefined) {
      byParams = new Map();
      this.packCache.set(op.enforcement, byParams);
    }
    let key = String(op.leaseTtlMs);
    for (const s of op.subjects) key += '|' + this.vectorId(s.limits);
    let buf = byParams.get(key);
    if (buf === undefined) {
      const values = [...enforcementValues(op.enforcement), op.leaseTtlMs];
      for (const s of op.subjects) values.push(...s.limits);
      buf = packDoubles(values);
      if (byParams.size > 1_000) byParams.clear(); // bounded: tiers are few, this never fills in practice
      byParams.set(key, buf);
    }
    return buf;
  }

  /** Enforcement parameters, then per subject the limit factor and nine limits, as packed doubles (cached). */
  settle(op: SettleOp): Buffer {
    const last = this.lastSettle;
    if (
      last !== undefined &&
      op.subjects.length === 1 &&
      last.limits === op.subjects[0]!.limits &&
      last.enforcement === op.enforcement &&
      last.factor === op.subjects[0]!.factor
    ) {
      return last.buf;
    }
    const buf = this.settleSlow(op);
    if (op.subjects.length === 1) {
      this.lastSettle = {
        limits: op.subjects[0]!.limits,
        enforcement: op.enforcement,
        factor: op.subjects[0]!.factor,
        buf,
      };
    }
    return buf;
  }

  private settleSlow(op: SettleOp): Buffer {
    let byParams = this.settleCache.get(op.enforcement);
    if (byParams === undefined) {
      byParams = new Map();
      this.settleCache.set(op.enforcement, byParams);
    }
    let key = '';
    for (const s of op.subjects) key += `${this.vectorId(s.limits)}:${s.factor}|`;
    let buf = byParams.get(key);
    if (buf === undefined) {
      const values = enforcementValues(op.enforcement);
      for (const s of op.subjects) values.push(s.factor, ...s.limits);
      buf = packDoubles(values);
      if (byParams.size > 1_000) byParams.clear();
      byParams.set(key, buf);
    }
    return buf;
  }

  private vectorId(v: LimitVector): number {
    let id = this.vectorIds.get(v);
    if (id === undefined) {
      id = ++this.nextVectorId;
      this.vectorIds.set(v, id);
    }
    return id;
  }
}

/**
 * The baked script for a combination, by the length of its parameters: straight-line for one
 * subject (19 values) and for two (acquire 28, settle 29), the general template otherwise.
 */
function bakedLua(kind: 'Acquire' | 'Settle', values: number[], leaseTtlMs: number): string {
  if (kind === 'Acquire') {
    if (values.length === 19) return singleAcquireLua(values, leaseTtlMs);
    if (values.length === 28) return pairAcquireLua(values, leaseTtlMs);
    return bakedAcquireLua(values, leaseTtlMs);
  }
  if (values.length === 19) return singleSettleLua(values);
  if (values.length === 29) return pairSettleLua(values);
  return bakedSettleLua(values);
}

/** The enforcement parameters in the order both scripts read them (ARGV, packed or baked). */
export function enforcementValues(p: EnforcementParams): number[] {
  return [
    p.warningAt,
    p.throttledAt,
    p.blockedAt,
    p.bannedAt,
    p.halfLifeMs,
    p.blockMs,
    p.throttleFactor,
    p.refusalWeight,
    p.banTtlMs,
  ];
}

/** Little-endian doubles, the format the Lua scripts unpack with struct. */
function packDoubles(values: number[]): Buffer {
  const buf = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => buf.writeDoubleLE(v, i * 8));
  return buf;
}
