/**
 * Realistically shaped fake credentials for the redaction tests, built from parts so that the
 * lengths match each vendor's format without pasting anything that looks like a live key.
 */

const B62 = 'aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4bC6dE8fG0hJ2kL4mN6pQ8rS0tU2vW4xY6zA8bC0dE2fG4';
const B64URL = 'Xy7_Qw-9Lm3Np5Rt8Vz2Kc4Hd6Jf1Gs0Aa-Bb_Cc3Dd5Ee7Ff9Gg1Hh2Ii4Jj6Kk8Ll0Mm_Nn-Oo3Pp5Qq7Rr9';

function take(source: string, n: number): string {
  let out = '';
  while (out.length < n) out += source;
  return out.slice(0, n);
}

export const OPENAI_LEGACY = `sk-${take(B62, 48)}`;
export const OPENAI_PROJECT = `sk-proj-${take(B64URL, 156)}`;
export const OPENAI_SERVICE = `sk-svcacct-${take(B64URL, 120)}`;
export const ANTHROPIC_KEY = `sk-ant-api03-${take(B64URL, 93)}AA`;
export const ANTHROPIC_ADMIN = `sk-ant-admin01-${take(B64URL, 93)}AA`;
export const GITHUB_CLASSIC = `ghp_${take(B62, 36)}`;
export const GITHUB_OAUTH = `gho_${take(B62.slice(5), 36)}`;
export const GITHUB_SERVER = `ghs_${take(B62.slice(9), 36)}`;
export const GITHUB_FINE = `github_pat_11ABCDEFG0${take(B62, 12)}_${take(B62.slice(3), 59)}`;
export const SLACK_BOT = 'xoxb-2048123456789-4096123456789-AbCdEfGhIjKlMnOpQrStUvWx';
export const SLACK_USER = 'xoxp-2048123456789-2048123456780-4096123456789-0a1b2c3d4e5f60718293a4b5c6d7e8f9';
export const GOOGLE_KEY = `AIza${take('SyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI_x', 35)}`;
export const AWS_LONG_TERM = 'AKIAIOSFODNN7EXAMPLE';
export const AWS_TEMPORARY = 'ASIAY34FZKBOKMUTVV7A';
/** The jwt.io example token (HS256). */
export const JWT_HS256 =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
/** `{"alg":"none"}.{"sub":"user-42"}.` with an empty signature. */
export const JWT_UNSIGNED = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLTQyIn0.';

function pem(label: string, lines: number): string {
  const body: string[] = [];
  for (let i = 0; i < lines; i++) body.push(take(B62.slice(i % 7) + '+/', 64));
  return `-----BEGIN ${label}-----\n${body.join('\n')}\n-----END ${label}-----`;
}

export const PEM_RSA = pem('RSA PRIVATE KEY', 25);
export const PEM_PKCS8 = pem('PRIVATE KEY', 16);
export const PEM_EC = pem('EC PRIVATE KEY', 3);
export const PEM_OPENSSH = pem('OPENSSH PRIVATE KEY', 6);
export const PEM_ENCRYPTED = pem('ENCRYPTED PRIVATE KEY', 20);
