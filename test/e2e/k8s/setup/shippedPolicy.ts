import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
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

/** A Deployment as the tests create it: `replicas` pods labelled with its name, an image never pulled (no kubelet). */
export const deployment = (namespace: string, name: string, replicas: number): V1Deployment => ({
  metadata: { name, namespace, labels: { app: name } },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `registry.invalid/${name}:1` }] } },
  },
});
