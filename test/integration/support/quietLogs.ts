import { afterAll, beforeAll } from 'vitest';
import { logger } from '../../../shared/observability.ts';

/** Within a describe: the handlers' logs only from CRITICAL up while its tests run, as they were after. */
export const quietLogs = (): void => {
  let level = logger.getLevelName();
  beforeAll(() => {
    level = logger.getLevelName();
    logger.setLogLevel('CRITICAL');
  });
  afterAll(() => logger.setLogLevel(level));
};
