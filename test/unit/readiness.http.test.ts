import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalAutoscaler } from '../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../shared/adapters/local/memoryStateStore.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { ManualClock } from '../support/clock.ts';
import { webhookPayload } from '../support/payloads.ts';

const policy = loadPolicyFile('policy.yaml');

interface TargetView {
  id: string;
  desired: number | null;
  readiness: { code: string; message: string } | null;
  lastDecisions: { code: string; from: number; to: number }[];
}

// HSOF 002 "add one replica, wait for it to be Ready" and 001/002 "new GPU nodes Ready", seen
// through `npm start`: its simulated GPU nodes join after 3 minutes, worker-llm's pods are
// Ready after their 180 s warm-up.
describe('npm start: a GPU workload waits for joined nodes, then for its pods to be Ready', () => {
  let clock: ManualClock;
  let autoscaler: LocalAutoscaler;
  let url: string;
  const lines: string[] = [];

  const target = async (id: string): Promise<TargetView> => {
    const body = (await (await fetch(`${url}/status`)).json()) as { targets: TargetView[] };
    const found = body.targets.find((t) => t.id === id);
    if (!found) throw new Error(`/status has no target ${id}`);
    return found;
  };

  beforeEach(async () => {
    // Prepare: Monday 10:00 in New York, the peak window (worker-llm 4); as `npm start` runs it
    clock = new ManualClock('2026-11-23T10:00:00-05:00');
    lines.length = 0;
    autoscaler = new LocalAutoscaler({ policy, clock, store: new MemoryStateStore(), clusterHealth: true, print: (l) => lines.push(l) });
    url = await autoscaler.listen(0);
  });

  afterEach(async () => {
    await autoscaler.close();
  });

  it('holds worker-llm until the pool\'s new node joined, then shows WaitingForReady on /status until the warm-up is over', async () => {
    // Act: the window's entry asks the pool for a second node
    await autoscaler.tick();

    // Assess: the pool grew at once; the pods wait for the node to join
    expect(autoscaler.cluster.snapshot()).toMatchObject({ 'gpu-pool': { desired: 2, ready: 1 }, 'worker-llm': { desired: 2 } });
    expect(lines.some((l) => l.includes('worker-llm 2 (hold) [WaitingForNodes]') && l.includes('1 node(s) Ready with nvidia.com/gpu'))).toBe(true);

    // Act: three minutes later the node has joined; the tick scales the pods
    clock.advance(180);
    await autoscaler.tick();
    const stepped = await target('worker-llm');

    // Assess: the step is taken and its pods are not Ready yet
    expect(autoscaler.cluster.snapshot()['worker-llm']).toMatchObject({ desired: 4, ready: 2 });
    expect(stepped).toMatchObject({ desired: 4, readiness: { code: 'WaitingForReady' } });
    expect(stepped.lastDecisions[0]).toMatchObject({ code: 'ScheduleEntry', from: 2, to: 4 });
    expect(stepped.readiness?.message).toBe('2 of 4 replica(s) Ready: the next scale-up waits for the last step (5m left of 5m)');

    // Act: the warm-up (180 s) is over
    clock.advance(180);
    const warmed = await target('worker-llm');

    // Assess
    expect(autoscaler.cluster.snapshot()['worker-llm']).toMatchObject({ desired: 4, ready: 4 });
    expect(warmed.readiness).toBeNull();
  });

  it("holds HSOF's scale-down while HSOFActiveJobs fires (hsof_active_jobs > 0), and lets it go once resolved", async () => {
    // Prepare: HSOF raised to 3 by its busy GPUs; 20 minutes later, low load
    const post = (body: unknown) => fetch(`${url}/webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const busy = { alertname: 'HSOFGPUBusy', labels: { service: 'hsof' }, fingerprint: 'b0', startsAt: '2026-11-23T15:00:00.000Z' };
    await post(webhookPayload([busy]));
    expect(autoscaler.cluster.snapshot()['hsof']?.desired).toBe(3);
    clock.advance(20 * 60);
    const jobs = { alertname: 'HSOFActiveJobs', labels: { service: 'hsof' }, fingerprint: 'a1', startsAt: '2026-11-23T15:20:00.000Z' };

    // Act: the busy alert resolves, low load and active jobs fire
    const response = await post(webhookPayload([{ ...busy, status: 'resolved' }, { alertname: 'HSOFLowLoad', labels: { service: 'hsof' }, fingerprint: 'c2', startsAt: '2026-11-23T15:20:00.000Z' }, jobs]));
    const held = await target('hsof');

    // Assess
    expect(response.status).toBe(200);
    expect(held.lastDecisions[0]).toMatchObject({ code: 'ActiveWork', from: 3, to: 3 });
    expect(autoscaler.cluster.snapshot()['hsof']?.desired).toBe(3);

    // Act: the jobs finish
    clock.advance(60);
    await post(webhookPayload([{ ...jobs, status: 'resolved' }]));
    await autoscaler.tick();

    // Assess: one replica goes
    expect(autoscaler.cluster.snapshot()['hsof']?.desired).toBe(2);
    expect((await target('hsof')).lastDecisions[0]).toMatchObject({ code: 'ScaleDown', from: 3, to: 2 });
  });
});
