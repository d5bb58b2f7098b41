import { has } from './triggers.ts';
import type { Detector } from './types.ts';

/**
 * Credentials. Each vendor format is anchored on its fixed prefix, so these detectors are
 * precise; the generic ones (bearer tokens, the bare `sk-` prefix) also ask that the value
 * look random, so that prose such as "sk-learn-tutorial" or "Bearer authentication" stays.
 *
 * A prefix of a truncated credential is still matched (minimum lengths are low), so that a
 * preview cut in the middle of a key never shows the key's beginning.
 */

/** Longest run of ASCII letters and digits. */
function longestAlnumRun(s: string): number {
  let best = 0;
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    run = alnum ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}

const DIGIT = /\d/;

/** Random-looking: has a digit and a long unbroken alphanumeric run (words have hyphens). */
function looksRandom(s: string, minRun: number): boolean {
  return DIGIT.test(s) && longestAlnumRun(s) >= minRun;
}

/** Bytes after a BEGIN header in which its END line, or a truncated base64 body, is looked for. */
const PEM_MAX_BODY = 16384;
const PEM_END = /-----END (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY-----/y;
const PEM_BODY = /[A-Za-z0-9+/=\s:,-]{0,16384}/y;

/**
 * Where the next END line of a PEM private key starts, at or after an offset: remembered across
 * the BEGIN headers of one scan (they come in increasing order), so every position of the text
 * is searched once however many headers there are. A lazy `[\s\S]{0,16384}?` after each header
 * scanned 16 KiB per header instead (1 MiB of repeated headers: about a second of CPU).
 */
class NextPemEnd {
  private text: string | undefined;
  private from = -1;
  private found = -1;

  at(text: string, offset: number): number {
    if (text !== this.text || offset < this.from) {
      this.text = text;
      this.found = -1;
      this.from = -1;
    }
    if (this.found >= offset) return this.found;
    // The previous answer lies before `offset`: search on from where the last search stopped.
    let i = Math.max(offset, this.from);
    for (;;) {
      i = text.indexOf('-----END ', i);
      if (i < 0) break;
      PEM_END.lastIndex = i;
      if (PEM_END.test(text)) break;
      i += 9;
    }
    this.from = offset;
    this.found = i < 0 ? Number.MAX_SAFE_INTEGER : i;
    return this.found;
  }
}
const nextPemEnd = new NextPemEnd();

/**
 * PEM private keys (PKCS#1 `RSA`, `EC`, `DSA`, PKCS#8, `ENCRYPTED`, `OPENSSH`): the BEGIN header
 * through the first END line within 16 KiB; without one (a truncated paste), the base64 body
 * after the header instead.
 */
const privateKey: Detector = {
  type: 'private_key',
  trigger: has('PRIVATE KEY-----'),
  needs: '-',
  pattern: /-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY-----/g,
  accept: (header, text, index) => {
    const bodyStart = index + header.length;
    const end = nextPemEnd.at(text, bodyStart);
    if (end - bodyStart <= PEM_MAX_BODY) {
      PEM_END.lastIndex = end;
      PEM_END.test(text);
      return PEM_END.lastIndex - index;
    }
    PEM_BODY.lastIndex = bodyStart;
    PEM_BODY.test(text);
    return PEM_BODY.lastIndex - index;
  },
};

/**
 * JSON Web Tokens: a base64url JSON header (always `eyJ`, i.e. `{"`) and at least the start
 * of the payload. The signature may be empty (`alg: none`) or cut off.
 */
const jwt: Detector = {
  type: 'jwt',
  trigger: has('eyJ'),
  needs: 'J',
  pattern: /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,8192}(?:\.[A-Za-z0-9_-]{0,16384}){1,2}/g,
  accept: (m) => m.length >= 16,
};

/** Anthropic: `sk-ant-api03-…`, `sk-ant-admin01-…`. Runs before OpenAI so that it wins. */
const anthropicKey: Detector = {
  type: 'anthropic_api_key',
  trigger: has('sk-ant-'),
  needs: '-',
  pattern: /(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{16,400}/g,
};

/** OpenAI: legacy `sk-` + 48 base62, `sk-proj-`, `sk-svcacct-`, `sk-admin-` + base64url. */
const openaiKey: Detector = {
  type: 'openai_api_key',
  trigger: has('sk-'),
  needs: '-',
  pattern: /(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,400}/g,
  accept: (m) => !m.startsWith('sk-ant-') && looksRandom(m.slice(3), 16),
};

const GITHUB_TRIGGER = /gh[pousr]_|github_pat_/;
/** GitHub: classic `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` and fine-grained `github_pat_`. */
const githubToken: Detector = {
  type: 'github_token',
  trigger: (t) => GITHUB_TRIGGER.test(t),
  needs: '_',
  pattern: /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{20,255})/g,
};

/** Slack: bot, user, app-level, refresh and legacy tokens. */
const slackToken: Detector = {
  type: 'slack_token',
  trigger: has('xox'),
  needs: 'x',
  pattern: /(?<![A-Za-z0-9_-])xox[abposr]-[A-Za-z0-9-]{10,255}/g,
  accept: (m) => DIGIT.test(m),
};

/** Google API keys: `AIza` + 35 base64url characters. */
const googleKey: Detector = {
  type: 'google_api_key',
  trigger: has('AIza'),
  needs: 'z',
  pattern: /(?<![A-Za-z0-9_-])AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])/g,
};

/** AWS access key ids: long-term `AKIA`, temporary (STS) `ASIA`, + 16 upper-case base32. */
const awsAccessKey: Detector = {
  type: 'aws_access_key',
  trigger: (t) => t.includes('AKIA') || t.includes('ASIA'),
  needs: 'A',
  pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
};

const BEARER_TRIGGER = /bearer/i;
/** The token after `Bearer ` (RFC 6750 b64token characters); the word itself stays. */
const BEARER = /(?<=\bbearer[ \t]{1,8})[A-Za-z0-9._~+/=-]{1,4096}/gi;
/** An HTTP Authorization header (also as a JSON or YAML key) right before `Bearer`. */
const AUTH_HEADER_BEFORE = /authorization["']?[ \t]{0,4}[:=][ \t]{0,4}["']?[ \t]{0,4}bearer[ \t]{1,8}$/i;

/**
 * Bearer tokens (RFC 6750). In an Authorization header any token is a credential; in free
 * text ("Bearer xyz") it must look random, so "Bearer authentication" is left alone.
 */
const bearerToken: Detector = {
  type: 'bearer_token',
  trigger: (t) => BEARER_TRIGGER.test(t),
  needs: 'bB',
  pattern: BEARER,
  accept: (m, text, index) => {
    if (AUTH_HEADER_BEFORE.test(text.slice(Math.max(0, index - 48), index))) return true;
    return m.length >= 8 && looksRandom(m, 8);
  },
};

/** Most specific first: an earlier detector's finding hides later detectors' overlaps. */
export const SECRET_DETECTORS: readonly Detector[] = [
  privateKey,
  jwt,
  anthropicKey,
  openaiKey,
  githubToken,
  slackToken,
  googleKey,
  awsAccessKey,
  bearerToken,
];
