import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicyFile } from '../../../shared/policyFile.ts';
import { run } from './setup/binaries.ts';
import { checkAlertmanagerConfig, checkRules } from './setup/alertingStack.ts';

const policy = loadPolicyFile('policy.yaml');
const RULES_FILE = join('prometheus', 'gpu-autoscaler.rules.yml');
const ALERTMANAGER_FILE = join('alertmanager', 'gpu-autoscaler.yml');

let out = '';
let command: { code: number | null; output: string } = { code: null, output: '' };

describe('npm run render: promtool and amtool accept what it writes', () => {
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'e2e-render-'));
    command = await run(
      join('node_modules', '.bin', 'tsx'),
      ['bin/cli.ts', 'render', '--out', out, '--webhook-url', 'https://abc123.lambda-url.us-east-1.on.aws/', '--credentials-file', '/run/secrets/gpu-autoscaler-token'],
      { timeoutMs: 60_000 },
    );
  });

  afterAll(async () => {
    if (out !== '') await rm(out, { recursive: true, force: true });
  });

  it('writes both files and says where', () => {
    // Assess
    expect(command.code, command.output).toBe(0);
    expect(command.output).toContain(`wrote ${join(out, RULES_FILE)}`);
    expect(command.output).toContain(`wrote ${join(out, ALERTMANAGER_FILE)}`);
  });

  it.each([
    { source: 'the command', dir: () => out },
    { source: 'the committed examples', dir: () => 'infra' },
  ])('promtool check rules accepts the rule file from $source, with every rule, veto and active-work alert plus the two of the scaler', async ({ dir }) => {
    // Act
    const result = await checkRules(await readFile(join(dir(), RULES_FILE), 'utf8'));

    // Assess
    expect(result.ok, result.output).toBe(true);
    const activeWork = policy.targets.filter((t) => t.kind !== 'eks-nodegroup' && t.activeWork?.prometheus).length;
    expect(result.output).toContain(`SUCCESS: ${policy.rules.length + policy.vetoes.length + activeWork + 2} rules found`);
  });

  it.each([
    { source: 'the command', dir: () => out, url: 'https://abc123.lambda-url.us-east-1.on.aws/' },
    { source: 'the committed examples', dir: () => 'infra', url: 'https://gpu-autoscaler.example.com/webhook' },
  ])('amtool check-config accepts the Alertmanager file from $source', async ({ dir, url }) => {
    // Prepare
    const text = await readFile(join(dir(), ALERTMANAGER_FILE), 'utf8');

    // Act
    const result = await checkAlertmanagerConfig(text);

    // Assess
    expect(result.ok, result.output).toBe(true);
    expect(result.output).toContain('2 receivers');
    expect(text).toContain(`url: ${url}`);
  });
});
