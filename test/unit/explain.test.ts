import { describe, expect, it } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { explain } from '../../shared/app/explain.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { ManualClock } from '../support/clock.ts';
import { webhookPayload } from '../support/payloads.ts';

const policy = loadPolicyFile('policy.yaml');

describe('Function: explain', () => {
  it('walks the same chain decide() runs: over a day of the shipped policy, its end is the decision', async () => {
    // Prepare: a day from 00:30, the LLM queue and VRAM alerts firing from 09:10
    const clock = new ManualClock('2026-11-23T00:30:00-05:00');
    const store = new MemoryStateStore();
    const local = new LocalAutoscaler({ policy, clock, store, print: () => undefined });
    let checked = 0;

    // Act, Assess: every 10 minutes, each target explained before the tick decides
    for (let minute = 0; minute < 24 * 60; minute += 10) {
      if (minute === 520) {
        await local.handle('POST', '/webhook', {}, JSON.stringify(webhookPayload([
          { alertname: 'LLMQueueBuildup', labels: { service: 'worker-llm' }, fingerprint: 'llmq', startsAt: clock.now().toISOString() },
          { alertname: 'VRAMHeadroomLow', fingerprint: 'vram', startsAt: clock.now().toISOString() },
        ])));
      }
      for (const target of policy.targets) {
        const report = await explain(policy, { target: target.id }, { store, clock, live: (id) => local.cluster.snapshot()[id]?.desired });
        const { now } = report;
        expect(now.candidates.filter((c) => c.won).length).toBe(now.chosen.source === 'none' ? 0 : 1);
        expect({ at: report.at, target: target.id, to: now.limited.to }).toEqual({ at: report.at, target: target.id, to: now.decision.to });
        if (now.limits.some((l) => l.outcome === 'applied' && l.reason?.message === now.decision.limitedBy?.message)) checked += 1;
      }
      await local.tick();
      clock.advance(600);
    }
    // The day has holds and limits to explain, not only quiet minutes.
    expect(checked).toBeGreaterThan(10);
  });
});
