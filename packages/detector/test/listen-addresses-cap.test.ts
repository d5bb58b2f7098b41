// A listen host name stands for at most 16 addresses (a name resolving to more is a pool, not a
// listen address: refused before any is bound), each once however often the resolver repeats it,
// and never for every interface (a wildcard among its records is refused).
import { describe, expect, it, vi } from 'vitest';
import { listenAddresses } from '../src/otlp/listen-addresses.ts';

const answers = new Map<string, { address: string; family: number }[]>();
vi.mock('node:dns/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:dns/promises')>();
  return {
    ...real,
    lookup: async (name: string, options: object) => answers.get(name) ?? real.lookup(name, options as never),
  };
});

const v4 = (n: number): { address: string; family: number } => ({ address: `10.0.0.${n}`, family: 4 });

describe('listenAddresses bounds', () => {
  it('takes 16 distinct addresses, repeats counted once', async () => {
    answers.set('sixteen.test', [...Array.from({ length: 16 }, (_, i) => v4(i + 1)), v4(1), v4(16)]);
    expect(await listenAddresses('sixteen.test')).toEqual(
      Array.from({ length: 16 }, (_, i) => `10.0.0.${i + 1}`),
    );
  });

  it('refuses a name resolving to 17, saying how many', async () => {
    answers.set(
      'seventeen.test',
      Array.from({ length: 17 }, (_, i) => v4(i + 1)),
    );
    await expect(listenAddresses('seventeen.test')).rejects.toThrow(
      'seventeen.test resolves to 17 addresses (at most 16)',
    );
  });

  it('refuses a name resolving to none', async () => {
    answers.set('none.test', []);
    await expect(listenAddresses('none.test')).rejects.toThrow('none.test resolves to no address');
  });

  // /etc/hosts lines such as `0.0.0.0 some-name` (blocklists) or a DNS answer of 0.0.0.0 would
  // have listened on every interface, public ones too, for a name meant as one address.
  it.each([
    ['0.0.0.0', 4],
    ['::', 6],
    ['0:0:0:0:0:0:0:0', 6],
  ])('refuses a name resolving to the wildcard %s', async (address, family) => {
    answers.set('wild.test', [v4(1), { address, family }]);
    await expect(listenAddresses('wild.test')).rejects.toThrow(
      `wild.test resolves to ${address}, every interface: write 0.0.0.0 or [::] to mean that`,
    );
  });
});
