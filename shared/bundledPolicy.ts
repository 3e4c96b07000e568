import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Policy } from './domain/policy.ts';

/**
 * The mark of a policy the build validated. `npm run build` (infra/build.ts, bundlePolicy)
 * validates the policy file with its full schema, refinements and all, and writes what the
 * validation returned, as JSON, with this mark, beside the bundles (dist/policy.json).
 */
export const BUNDLED_POLICY_FORMAT = 'gpu-autoscaler/validated-policy@1';

export interface BundledPolicy {
  format: typeof BUNDLED_POLICY_FORMAT;
  /** The policy file it came from, relative to the project. */
  source: string;
  /** sha256 of the policy's JSON as the build wrote it: an edit after the build no longer matches. */
  sha256: string;
  policy: Policy;
}

/** The digest the build records and a function checks: of the policy's JSON, keys in the order validation gave them. */
export const policyDigest = (policy: unknown): string => createHash('sha256').update(JSON.stringify(policy)).digest('hex');

/**
 * The policy a function runs with, read from what the build wrote. It is trusted as it is:
 * the build validated it, so a function validates nothing again, and neither classic zod nor
 * the policy schema is in a bundle. A file without the mark (a policy written by hand), or
 * whose policy no longer matches the digest the build recorded (edited after the build), is
 * refused, so a function never runs an unvalidated policy. The digest catches edits, not
 * forgery: who can rewrite a deployment package can rewrite the code beside it too.
 */
export const loadBundledPolicy = (path: string): Policy => {
  let document: Partial<BundledPolicy> | null;
  try {
    document = JSON.parse(readFileSync(path, 'utf8')) as Partial<BundledPolicy> | null;
  } catch (error) {
    throw new Error(`cannot read the bundled policy ${path} (npm run build writes it): ${(error as Error).message}`);
  }
  if (document?.format !== BUNDLED_POLICY_FORMAT || document.policy === undefined) {
    throw new Error(`${path} is not a policy the build validated: npm run build validates policy.yaml and writes it there`);
  }
  if (document.sha256 !== policyDigest(document.policy)) {
    throw new Error(`${path} was changed after the build validated it: edit policy.yaml and run npm run build again`);
  }
  return document.policy;
};
