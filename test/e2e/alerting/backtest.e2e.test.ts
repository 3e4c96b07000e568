import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { LocalAutoscaler } from '../../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../../shared/adapters/local/memoryStateStore.ts';
import type { Decision } from '../../../shared/domain/decision.ts';
import type { Policy } from '../../../shared/domain/policy.ts';
import { loadPolicyFile } from '../../../shared/policyFile.ts';
import { systemClock } from '../../../shared/ports.ts';
import { waitUntil } from './setup/alertingStack.ts';
import { startScalingStack, WEBHOOK_TOKEN } from './setup/scalingStack.ts';
import type { ScalingStack } from './setup/scalingStack.ts';

// The backtest's promise, checked end to end: rules rendered from the policy fire in a real
// Prometheus from a scraped exporter, a live scaler acts on what Alertmanager sends, and
// `gpu-autoscaler backtest --prometheus` over the same range takes the same transitions.

const run = promisify(execFile);
const LLM = { service: 'worker-llm' } as const;
const RL = { service: 'worker-rl' } as const;
const GPU = { gpu: '0', node: 'gpu-node-1' } as const;
const DELIVERY_TIMEOUT_MS = 30_000;
/** The backtest reads ALERTS at Prometheus's evaluation interval (1s). */
const STEP_SECONDS = 1;
/**
 * How far a live decision may lie from its replayed one: the live scaler hears of an alert after
 * Alertmanager's group_wait (1s) and the HTTP round trips, the backtest at the first evaluation
 * step that shows it firing; 2s of slack for a loaded machine.
 */
const SAME_INSTANT_MS = STEP_SECONDS * 1000 + 1000 + 2000;
const MINUTE = 60_000;

/**
 * The shipped policy without its schedules, as a file the CLI reads: the live scaler runs on the
 * wall clock, and this test runs at any hour, so windows would open and close at random in it.
 */
const alertsOnlyPolicy = async (dir: string): Promise<{ path: string; policy: Policy }> => {
  const doc = parseDocument(await readFile('policy.yaml', 'utf8'));
  doc.set('schedules', []);
  const path = join(dir, 'alerts-only.policy.yaml');
  await writeFile(path, doc.toString({ lineWidth: 0 }));
  return { path, policy: loadPolicyFile(path) };
};

/** What a transition is, without when: target, sizes, verdict, cause, limit and every reason. */
const shape = (d: Pick<Decision, 'target' | 'from' | 'to' | 'verdict' | 'cause' | 'limitedBy' | 'reasons' | 'rule'>) => ({
  target: d.target,
  from: d.from,
  to: d.to,
  verdict: d.verdict,
  rule: d.rule,
  cause: d.cause,
  limitedBy: d.limitedBy,
  reasons: d.reasons,
});

interface BacktestJson {
  command: string;
  from: string;
  to: string;
  transitions: (ReturnType<typeof shape> & { at: string })[];
  held: number;
}

let dir = '';
let stack: ScalingStack;
let policy: Policy;
let policyPath = '';

describe('backtest against the real Prometheus the live scaler acted on', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-backtest-'));
    ({ path: policyPath, policy } = await alertsOnlyPolicy(dir));
    // The rendered route's repeat_interval (1h), which the backtest assumes; quick waits so that a
    // firing or resolved alert reaches the scaler within seconds.
    stack = await startScalingStack({ policy, alertmanagers: 1, timings: { group_wait: '1s', group_interval: '1s', repeat_interval: '1h' } });
  });

  afterAll(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reproduces the live scaler\'s transitions (targets, sizes, causes, reasons) within the evaluation step', { timeout: 240_000 }, async () => {
    // Prepare: every gauge between its rules' thresholds, so that nothing fires yet
    const calm = () => {
      stack.exporter.set('llm_queue_length', LLM, 30);
      stack.exporter.set('rl_training_queue_length', RL, 10);
      stack.exporter.set('nvidia_gpu_memory_free_bytes', GPU, 20e9);
      stack.exporter.set('nvidia_gpu_memory_total_bytes', GPU, 24e9);
    };
    calm();
    await stack.quiet();
    const from = Math.floor(Date.now() / 1000) * 1000;
    // The live scaler: the local runtime of npm start on the wall clock, ticking on each minute as
    // the deployed schedule does (and as the replay does), Alertmanager's webhook pointed at it.
    const live = new LocalAutoscaler({ policy, clock: systemClock, store: new MemoryStateStore(), token: WEBHOOK_TOKEN, print: () => undefined });
    stack.proxy.forwardTo(await live.listen(0));
    let ticker: NodeJS.Timeout | undefined;
    const everyMinute = () => {
      ticker = setTimeout(() => {
        void live.tick();
        everyMinute();
      }, MINUTE - (Date.now() % MINUTE));
    };
    everyMinute();
    const decided = (target: string, verdict: Decision['verdict']) => () => live.decisions.find((d) => d.target === target && d.verdict === verdict);

    try {
      // Act: VRAM headroom falls to 8% (the veto fires), then the RL training queue builds up
      stack.exporter.set('nvidia_gpu_memory_free_bytes', GPU, 2e9);
      await waitUntil(() => live.decisions.find((d) => d.state.alerts.some((a) => a.alertname === 'VRAMHeadroomLow')), { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'the scaler to hold VRAMHeadroomLow' });
      stack.exporter.set('rl_training_queue_length', RL, 30);
      await waitUntil(decided('worker-rl', 'hold'), { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'the scale-up of worker-rl to be vetoed' });
      // Act: headroom back to 83%: the held step is taken; then the LLM queue builds up
      stack.exporter.set('nvidia_gpu_memory_free_bytes', GPU, 20e9);
      await waitUntil(decided('worker-rl', 'scale'), { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'worker-rl to scale once the veto resolves' });
      stack.exporter.set('llm_queue_length', LLM, 60);
      await waitUntil(decided('worker-llm', 'scale'), { timeoutMs: DELIVERY_TIMEOUT_MS, what: 'worker-llm to scale on LLMQueueBuildup' });
      // Act: calm again; every alert resolves at the scaler
      calm();
      await stack.quiet();
    } finally {
      clearTimeout(ticker);
      await live.close();
    }
    const to = Math.ceil(Date.now() / 1000) * 1000;
    const liveTransitions = live.decisions.filter((d) => d.verdict === 'scale');

    // Act: the backtest over the same range, as an operator runs it, printed and as JSON
    const out = join(dir, 'out');
    const gpuAutoscaler = (...extra: string[]) =>
      run(
        process.execPath,
        ['--import', 'tsx', 'bin/cli.ts', 'backtest', '--policy', policyPath, '--prometheus', stack.prometheus.url, '--step', `${STEP_SECONDS}s`,
          '--from', new Date(from).toISOString(), '--to', new Date(to).toISOString(), '--out', out, ...extra],
        { timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } },
      );
    const backtest = JSON.parse((await gpuAutoscaler('--json')).stdout) as BacktestJson & { files: string[] };
    const printed = (await gpuAutoscaler()).stdout;

    // Assess: the live scaler did what the scenario asks of it
    expect(liveTransitions.map((d) => `${d.target} ${d.from}->${d.to} ${d.rule}`)).toEqual(
      expect.arrayContaining(['worker-rl 1->2 rl-training-queue', 'worker-llm 2->3 llm-queue-buildup']),
    );
    expect(live.decisions.find((d) => d.target === 'worker-rl' && d.verdict === 'hold')?.reasons[0]?.code).toBe('VetoedByAlert');
    // Assess: the same transitions, in the same order, each within the evaluation step of the live one
    expect(backtest.transitions.map(shape)).toEqual(liveTransitions.map(shape));
    backtest.transitions.forEach((replayed, i) => {
      const at = Date.parse(liveTransitions[i]?.at ?? '');
      expect(Math.abs(Date.parse(replayed.at) - at), `${replayed.target} ${replayed.from}->${replayed.to}: backtest ${replayed.at}, live ${liveTransitions[i]?.at}`).toBeLessThanOrEqual(SAME_INSTANT_MS);
    });
    // Assess: the veto's hold is replayed too
    expect(backtest.held).toBeGreaterThanOrEqual(1);
    // Assess: it prints what simulate prints: every transition with its reason, and the picture
    expect(printed).toContain(`backtest ${policyPath} on ${stack.prometheus.url}`);
    expect(printed).toContain(`: ${liveTransitions.length} transitions\n`);
    for (const d of liveTransitions) expect(printed).toContain(`${d.target} ${d.from} -> ${d.to} [${d.reasons[0]?.code}] `);
    expect(backtest.files).toEqual([join(out, 'backtest.svg'), join(out, 'backtest.html')]);
    expect(await readFile(join(out, 'backtest.svg'), 'utf8')).toMatch(/^<svg/);
    console.info(`backtest e2e: ${liveTransitions.length} transitions, live - backtest (ms): ${backtest.transitions.map((t, i) => Date.parse(liveTransitions[i]?.at ?? '') - Date.parse(t.at)).join(', ')}`);
  });
});
