import { type Document, isMap, isNode, isScalar, type Node, parseDocument } from 'yaml';
import { type Policy, validatePolicy } from './domain/policy.ts';
import { readInputFile } from './inputFile.ts';

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

/**
 * The node where the field at `keys` is written: its key when a mapping holds it (a nested
 * block starts a line below its key), else its value.
 */
const nodeAt = (document: Document, keys: readonly PropertyKey[]): Node | undefined => {
  const parent: unknown = document.getIn(keys.slice(0, -1), true);
  const key = isMap(parent) ? parent.items.find((pair) => isScalar(pair.key) && pair.key.value === keys.at(-1))?.key : undefined;
  const node: unknown = isNode(key) ? key : document.getIn(keys, true);
  return isNode(node) ? node : undefined;
};

/** The field's line, or its closest parent's when the file does not write it (missing, or a default). */
const lineOf = (document: Document, text: string, keys: readonly PropertyKey[]): number | undefined => {
  for (let depth = keys.length; depth >= 0; depth -= 1) {
    const range = nodeAt(document, keys.slice(0, depth))?.range;
    if (range) return text.slice(0, range[0]).split('\n').length;
  }
  return undefined;
};

/** Parses and validates policy text; `source` names it in errors, each problem with its line. */
export const parsePolicy = (text: string, source: string): Policy => {
  let document: Document;
  let value: unknown;
  try {
    document = parseDocument(text, { prettyErrors: true });
    value = document.errors.length === 0 ? document.toJS() : undefined;
  } catch (error) {
    throw new PolicyError(source, [`not valid YAML: ${(error as Error).message}`]);
  }
  if (document.errors.length > 0) throw new PolicyError(source, document.errors.map((error) => `not valid YAML: ${error.message}`));
  const result = validatePolicy(value);
  if (!result.ok) {
    throw new PolicyError(
      source,
      result.issues.map((issue) => {
        const line = lineOf(document, text, issue.at);
        return `${issue.path}${line === undefined ? '' : ` (line ${line})`}: ${issue.message}`;
      }),
    );
  }
  return result.policy;
};

export const loadPolicyFile = (path: string): Policy => parsePolicy(readInputFile(path, (problems) => new PolicyError(path, problems)), path);
