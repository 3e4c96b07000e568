import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type Policy, type PolicyInput, validatePolicy } from '../../../../shared/domain/policy.ts';

const SHIPPED = readFileSync('policy.yaml', 'utf8');

/**
 * The committed RBAC files, rendered from the shipped policy: what an operator applies, one per
 * cluster. One API server stands for every cluster in these tests; their namespaces do not overlap.
 */
export const SHIPPED_RBAC = readdirSync('infra/k8s')
  .filter((name) => /^rbac\..+\.yaml$/.test(name))
  .map((name) => readFileSync(join('infra/k8s', name), 'utf8'))
  .join('\n---\n');

/** The shipped policy, changed the way a user would edit policy.yaml. */
export const policyWith = (change: (document: PolicyInput) => void = () => undefined): Policy => {
  const document: PolicyInput = parse(SHIPPED);
  change(document);
  const result = validatePolicy(document);
  if (!result.ok) throw new Error(`invalid test policy: ${JSON.stringify(result.issues)}`);
  return result.policy;
};
