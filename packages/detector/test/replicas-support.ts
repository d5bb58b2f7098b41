import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  silentAlertmanagerConfig,
  startAlertmanager,
  type AlertmanagerHandle,
} from '../../../test/support/alertmanager.ts';
import { startRedis, type RedisHandle } from '../../../test/support/redis.ts';
import type { DetectorProcess } from './process-support.ts';

/**
 * For tests of detector replicas on one Redis posting to one real Alertmanager: a redis-server
 * and an Alertmanager (with `alertmanagerConfig`) started once for the file and stopped after
 * it, and the detector processes a test pushes into `procs`, killed after each test.
 */
export function useReplicaFleet(alertmanagerConfig = silentAlertmanagerConfig()): {
  readonly redis: RedisHandle;
  readonly am: AlertmanagerHandle;
  readonly procs: DetectorProcess[];
} {
  let redis: RedisHandle | undefined;
  let am: AlertmanagerHandle | undefined;
  const procs: DetectorProcess[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    am = await startAlertmanager({ config: alertmanagerConfig });
  }, 30_000);
  afterEach(() => {
    for (const p of procs.splice(0)) p.kill('SIGKILL');
  });
  afterAll(async () => {
    await am?.stop();
    await redis?.stop();
  });
  return {
    get redis() {
      if (redis === undefined)
        throw new Error('useReplicaFleet: redis-server not started (used outside a test?)');
      return redis;
    },
    get am() {
      if (am === undefined)
        throw new Error('useReplicaFleet: Alertmanager not started (used outside a test?)');
      return am;
    },
    procs,
  };
}
