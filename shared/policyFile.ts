import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { type Policy, validatePolicy } from './domain/policy.ts';

/** A policy that cannot be used, with every problem found and where. */
export class PolicyError extends Error {
  public constructor(
    public readonly source: string,
    public readonly problems: string[],
  ) {
    super(`invalid policy ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PolicyError';
  }
}

/** Parses and validates policy text; `source` names it in errors. */
export const parsePolicy = (text: string, source: string): Policy => {
  let document: unknown;
  try {
    document = parse(text, { prettyErrors: true });
  } catch (error) {
    throw new PolicyError(source, [`not valid YAML: ${(error as Error).message}`]);
  }
  const result = validatePolicy(document);
  if (!result.ok) throw new PolicyError(source, result.issues.map((i) => `${i.path}: ${i.message}`));
  return result.policy;
};

export const loadPolicyFile = (path: string): Policy => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PolicyError(path, [`cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  return parsePolicy(text, path);
};
