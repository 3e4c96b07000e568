import { join } from 'node:path';
import { bundlePolicy, ROOT } from '../../infra/build.ts';

/**
 * The handler modules read the policy the build validated (dist/policy.json, see
 * shared/bundledPolicy.ts), in the tests as in Lambda: write it, from policy.yaml, first.
 */
export default async function setup(): Promise<void> {
  await bundlePolicy(join(ROOT, 'policy.yaml'));
}
