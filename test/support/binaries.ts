import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * The server binaries the integration tests run, and the Debian package that installs each
 * (.ci/run installs them on a fresh machine). A missing one must fail the test that needs it
 * with "install X", not crash the worker with an uncaught `spawn ENOENT`.
 */
export const DEBIAN_PACKAGE: Readonly<Record<string, string>> = {
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'prometheus-alertmanager': 'prometheus-alertmanager',
  amtool: 'prometheus-alertmanager',
};

export class MissingBinaryError extends Error {
  override readonly name = 'MissingBinaryError';
  readonly binary: string;

  constructor(binary: string) {
    const pkg = DEBIAN_PACKAGE[binary];
    super(
      `${binary} is not installed (not found on PATH). Install ${binary}` +
        (pkg !== undefined
          ? ` (Debian package ${pkg}: apt-get install -y --no-install-recommends ${pkg}), or run .ci/run, which installs it`
          : ''),
    );
    this.binary = binary;
  }
}

/**
 * The absolute path of `binary` on PATH (or `binary` itself when it is a path that exists);
 * throws MissingBinaryError otherwise. Looked up at each call: PATH is cheap to scan, and a
 * cache would hide a binary installed while a watch-mode run is up.
 */
export function requireBinary(binary: string, path = process.env.PATH ?? ''): string {
  if (isAbsolute(binary) || binary.includes('/')) {
    if (executable(binary)) return binary;
    throw new MissingBinaryError(binary);
  }
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, binary);
    if (executable(candidate)) return candidate;
  }
  throw new MissingBinaryError(binary);
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
