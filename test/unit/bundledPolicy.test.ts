import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BUNDLED_POLICY_FORMAT, loadBundledPolicy } from '../../shared/bundledPolicy.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';

// dist/policy.json as the build wrote it from policy.yaml (the tests' global setup runs the build's bundlePolicy).
const BUNDLED = join('dist', 'policy.json');

describe('Function: loadBundledPolicy', () => {
  it('reads back exactly what validating policy.yaml returned: defaults filled, durations in seconds', () => {
    // Act
    const bundled = loadBundledPolicy(BUNDLED);

    // Assess
    expect(bundled).toStrictEqual(JSON.parse(JSON.stringify(loadPolicyFile('policy.yaml'))));
    expect(bundled).toEqual(loadPolicyFile('policy.yaml'));
    expect(JSON.parse(readFileSync(BUNDLED, 'utf8'))).toMatchObject({ format: BUNDLED_POLICY_FORMAT, source: 'policy.yaml' });
  });

  it.each([
    { case: 'the policy document itself, never validated', text: JSON.stringify(parse(readFileSync('policy.yaml', 'utf8'))), error: /is not a policy the build validated/ },
    { case: 'a mark without a policy', text: JSON.stringify({ format: BUNDLED_POLICY_FORMAT }), error: /is not a policy the build validated/ },
    { case: 'null', text: 'null', error: /is not a policy the build validated/ },
    { case: 'YAML', text: readFileSync('policy.yaml', 'utf8'), error: /cannot read the bundled policy .*npm run build/ },
  ])('refuses $case, naming the file', ({ text, error }) => {
    // Prepare
    const file = join(mkdtempSync(join(tmpdir(), 'bundled-policy-')), 'policy.json');
    writeFileSync(file, text);

    // Act
    const load = () => loadBundledPolicy(file);

    // Assess
    expect(load).toThrow(error);
    expect(load).toThrow(file);
  });
});
