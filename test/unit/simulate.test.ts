import { describe, expect, it } from 'vitest';
import type { Decision } from '../../shared/domain/decision.ts';
import { resolvePolicy } from '../../shared/domain/resolve.ts';
import { zonedInstant } from '../../shared/domain/schedule.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { alertFingerprint, noticesFromSpans } from '../../shared/replay/history.ts';
import { replay, type ReplayResult } from '../../shared/replay/replay.ts';
import { alertSpans, gpuNodeHours, windowSpans } from '../../shared/replay/report.ts';
import { parseTimeline, timelineHistory } from '../../shared/replay/timeline.ts';

const shipped = loadPolicyFile('policy.yaml');
const HOUR = 3_600_000;

const midnight = (date: string, zone: string) => zonedInstant(Date.parse(`${date}T00:00:00Z`), 0, zone);

const localParts = (instant: number, zone: string) => {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(instant))
      .map((p) => [p.type, p.value]),
  );
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
};

/** A transition as the hand tables write it: local date and time, target, from -> to, headline. */
const row = (d: Decision, zone: string): string => {
  const { date, time } = localParts(Date.parse(d.at), zone);
  return `${date} ${time} ${d.target} ${d.from}->${d.to} ${d.reasons[0]?.code}`;
};

// Every local day of the shipped policy, worked from the runbooks' rules: window entries set their
// `desired` and are kept until reached; a scale-down goes one replica (maxStepDown) per 5m cooldown
// and waits 15m (scaleDownDelay) after a scale-up; pre-scale (30m before peak) only raises; a
// GPU workload asks its pool for ceil(GPUs / 4) nodes first; a pool with more nodes than its
// workloads need for 1h (idleAfter) shrinks.
const DAY: readonly [time: string, target: string, move: string, reason: string][] = [
  ['01:00', 'app', '3->2', 'ScheduleEntry'], // off-peak begins: desired 2
  ['01:00', 'worker-llm', '3->2', 'ScheduleEntry'], // worker-rl is at its off-peak 1 already
  ['06:00', 'app', '2->3', 'ScheduleEntry'], // normal-morning: desired 3
  ['06:00', 'worker-llm', '2->3', 'ScheduleEntry'], // 3 + 1 GPUs: still one node
  ['08:30', 'app', '3->5', 'ScheduleEntry'], // peak's 30m pre-scale raises
  ['08:30', 'worker-llm', '3->3', 'WaitingForNodes'], // 4 + 1 GPUs need 2 nodes of 4: the pods wait for the pool
  ['08:30', 'worker-rl', '1->1', 'WaitingForNodes'], // 3 + 2 GPUs too
  ['08:30', 'gpu-pool', '1->2', 'GpuCapacityRequested'], // the pool grows first (the same FIFO group)
  ['08:30', 'worker-llm', '3->4', 'ScheduleEntry'], // then the pods follow
  ['08:30', 'worker-rl', '1->2', 'ScheduleEntry'],
  ['18:00', 'app', '5->4', 'OneStepAtATime'], // normal-evening wants 3: one step down per cooldown
  ['18:00', 'worker-llm', '4->3', 'ScheduleEntry'],
  ['18:00', 'worker-rl', '2->1', 'ScheduleEntry'], // 3 + 1 GPUs: one node needed from now
  ['18:04', 'app', '4->4', 'CooldownActive'], // app's reconcile minute (each target has its own in 5m): the entry waits
  ['18:05', 'app', '4->3', 'ScheduleEntry'], // the 5m cooldown is over: the entry, kept until reached
  ['19:01', 'gpu-pool', '2->1', 'GpuPoolIdle'], // one node idle since 18:01 (the tick after the workers went down) for the 1h idleAfter
];

// The range starts at local midnight inside normal-evening, with every target at its hard min.
const FIRST_MIDNIGHT: readonly [time: string, target: string, move: string, reason: string][] = [
  ['00:00', 'app', '2->3', 'ScheduleEntry'],
  ['00:00', 'worker-llm', '2->3', 'ScheduleEntry'],
];

// GPU-node-hours by hand, per local day: one node all day (24 h, 23 h when the clock springs
// forward, 25 h when it falls back) and a second one from 08:30 to 19:01 (10.5 h and a minute).
/** The second node's hours a day: 08:30 to 19:01. */
const SECOND_NODE = 10.5 + 1 / 60;
type DayHours = readonly [date: string, hoursInDay: number, secondNode: number];

const CASES: readonly { zone: string; from: string; to: string; change: string; offPeakHours: number; days: DayHours[] }[] = [
  {
    zone: 'America/New_York', from: '2027-03-10', to: '2027-03-17', change: '2027-03-14', offPeakHours: 4,
    days: [['2027-03-10', 24, SECOND_NODE], ['2027-03-11', 24, SECOND_NODE], ['2027-03-12', 24, SECOND_NODE], ['2027-03-13', 24, SECOND_NODE], ['2027-03-14', 23, SECOND_NODE], ['2027-03-15', 24, SECOND_NODE], ['2027-03-16', 24, SECOND_NODE]],
  },
  {
    zone: 'America/New_York', from: '2027-11-03', to: '2027-11-10', change: '2027-11-07', offPeakHours: 6,
    days: [['2027-11-03', 24, SECOND_NODE], ['2027-11-04', 24, SECOND_NODE], ['2027-11-05', 24, SECOND_NODE], ['2027-11-06', 24, SECOND_NODE], ['2027-11-07', 25, SECOND_NODE], ['2027-11-08', 24, SECOND_NODE], ['2027-11-09', 24, SECOND_NODE]],
  },
  {
    zone: 'Europe/Berlin', from: '2027-03-25', to: '2027-04-01', change: '2027-03-28', offPeakHours: 4,
    days: [['2027-03-25', 24, SECOND_NODE], ['2027-03-26', 24, SECOND_NODE], ['2027-03-27', 24, SECOND_NODE], ['2027-03-28', 23, SECOND_NODE], ['2027-03-29', 24, SECOND_NODE], ['2027-03-30', 24, SECOND_NODE], ['2027-03-31', 24, SECOND_NODE]],
  },
  {
    zone: 'Europe/Berlin', from: '2027-10-28', to: '2027-11-04', change: '2027-10-31', offPeakHours: 6,
    days: [['2027-10-28', 24, SECOND_NODE], ['2027-10-29', 24, SECOND_NODE], ['2027-10-30', 24, SECOND_NODE], ['2027-10-31', 25, SECOND_NODE], ['2027-11-01', 24, SECOND_NODE], ['2027-11-02', 24, SECOND_NODE], ['2027-11-03', 24, SECOND_NODE]],
  },
];

describe('Function: replay (simulate), the shipped policy over a week across a DST change', () => {
  it.each(CASES)('$zone, the week the clocks change on $change: the hand-worked transitions and GPU-node-hours', async ({ zone, from, to, change, offPeakHours, days }) => {
    // Prepare
    const policy = { ...shipped, timezone: zone };

    // Act
    const result = await replay(policy, { from: midnight(from, zone), to: midnight(to, zone), history: { notices: [], metrics: [] } });

    // Assess: the first midnight, then the same day, at the same local times, every day
    const expected = [
      ...FIRST_MIDNIGHT.map(([time, target, move, why]) => `${from} ${time} ${target} ${move} ${why}`),
      ...days.flatMap(([date]) => DAY.map(([time, target, move, why]) => `${date} ${time} ${target} ${move} ${why}`)),
    ];
    expect(result.decisions.map((d) => row(d, zone))).toEqual(expected);
    expect(result.decisions.every((d) => d.verdict === 'scale' || ['WaitingForNodes', 'CooldownActive'].includes(d.limitedBy?.code ?? ''))).toBe(true);

    // Assess: each window once a day; off-peak (01:00-06:00) lasts 4 real hours the day the clock springs forward, 6 when it falls back
    const app = resolvePolicy(policy).target('app');
    if (!app) throw new Error('no app target');
    const entries = windowSpans(result, app).filter((s) => s.start > result.from);
    for (const [date] of days) {
      const entered = entries.filter((s) => localParts(s.start, zone).date === date).map((s) => s.window);
      expect(entered.sort(), date).toEqual(['normal-evening', 'normal-morning', 'off-peak', 'peak']);
    }
    const offPeak = entries.find((s) => s.window === 'off-peak' && localParts(s.start, zone).date === change);
    expect(offPeak && (offPeak.end - offPeak.start) / HOUR).toBe(offPeakHours);

    // Assess: the node-hours summed by hand, against a static pool of the peak (2 nodes) all week
    const byHand = days.reduce((sum, [, hours, second]) => sum + hours + second, 0);
    const hoursInRange = days.reduce((sum, [, hours]) => sum + hours, 0);
    const rounded = <T extends { nodeHours: number }>(rows: T[]) => rows.map((r) => ({ ...r, nodeHours: Math.round(r.nodeHours * 1e6) / 1e6 }));
    expect(rounded(gpuNodeHours(result))).toEqual(rounded([
      { pool: 'gpu-pool', nodeHours: byHand, peak: 2, staticNodeHours: 2 * hoursInRange },
      // HSOF's GPU node group (2-6) has no window and no workload the scaler sizes on it: its minimum, all week
      { pool: 'hsof-gpu-nodes', nodeHours: 2 * hoursInRange, peak: 2, staticNodeHours: 2 * hoursInRange },
    ]));
  });
});

// A week of history that exercises every way a replay may not sleep: alerts that step, a veto that
// holds, repeats of a long alert, a down held by the scale-down delay, a metric to zero after idle.
const EVENTS = `
- { at: 2027-03-10T10:00:00-05:00, alert: LLMQueueBuildup, labels: { service: worker-llm }, for: 40m }
- { at: 2027-03-11T11:00:00-05:00, alert: VRAMHeadroomLow, labels: { gpu: "0" }, for: 2h }
- { at: 2027-03-11T11:30:00-05:00, alert: LLMQueueBuildup, labels: { service: worker-llm }, for: 30m }
- { at: 2027-03-12T14:00:00-05:00, alert: APIQueueBackup, labels: { service: tensafe }, for: 10m }
- { at: 2027-03-12T14:20:00-05:00, alert: APILowLoad, labels: { service: tensafe }, for: 2h }
- { at: 2027-03-13T10:00:00-05:00, metric: { namespace: AWS/SQS, name: ApproximateNumberOfMessagesVisible, dimensions: { QueueName: tensafe-training-jobs } }, value: 6 }
- { at: 2027-03-13T10:20:00-05:00, metric: { namespace: AWS/SQS, name: ApproximateNumberOfMessagesVisible, dimensions: { QueueName: tensafe-training-jobs } }, value: 0 }
- { at: 2027-03-14T00:00:00-05:00, alert: VRAMHeadroomLow, labels: { gpu: "1" }, for: 6h }
- { at: 2027-03-15T09:10:00-04:00, alert: HSOFGPUBusy, labels: { service: hsof }, for: 20m }
- { at: 2027-03-15T10:00:00-04:00, alert: HSOFLowLoad, labels: { service: hsof } }
`;

const outcome = (result: ReplayResult) => ({
  decisions: result.decisions.map((d) => ({ at: d.at, target: d.target, from: d.from, to: d.to, verdict: d.verdict, reasons: d.reasons })),
  alerts: alertSpans(result),
  gpu: gpuNodeHours(result),
});

describe('Function: replay, sleeping through quiet hours', () => {
  it('gives exactly what a minute-by-minute run gives, over a week of alerts and metric values', async () => {
    // Prepare
    const from = midnight('2027-03-10', shipped.timezone);
    const to = midnight('2027-03-17', shipped.timezone);
    const history = timelineHistory(shipped, parseTimeline(EVENTS, 'events'), to);

    // Act
    const fast = await replay(shipped, { from, to, history });
    const everyMinute = await replay(shipped, { from, to, history, everyMinute: true });

    // Assess: the same decisions, alerts and node-hours, on far fewer ticks (HSOFLowLoad fires to the end: minute by minute from then)
    expect(everyMinute.ticks).toBe(7 * 24 * 60 - 60); // the week loses an hour to DST
    expect(fast.ticks).toBeLessThan(everyMinute.ticks / 3);
    expect(outcome(fast)).toEqual(outcome(everyMinute));
    // and the history did what it was written for
    const codes = new Set(fast.decisions.map((d) => d.reasons[0]?.code));
    for (const code of ['ScaleUp', 'VetoedByAlert', 'ScaleDownDelayed', 'ScaleDown', 'CooldownActive']) expect(codes, code).toContain(code);
    expect(fast.decisions.filter((d) => d.target === 'training-workers' && d.verdict === 'scale').map((d) => `${d.from}->${d.to}`)).toEqual(['0->6', '6->0']);
  }, 120_000); // the minute-by-minute week is the slow half, ten thousand ticks

  // Alertmanager re-sends a firing alert every repeat_interval (1h, a quarter of alertTtl) with
  // the first notice's intent id: the worker takes it as a duplicate, acts no more, and sees the
  // alert again, so a veto firing for 6h vetoes for 6h.
  it('keeps a veto that fires for 6h, re-sent every hour, for the whole 6h on both GPU workloads', async () => {
    // Prepare
    const from = midnight('2027-03-14', shipped.timezone);
    const to = midnight('2027-03-15', shipped.timezone);
    const history = timelineHistory(shipped, parseTimeline(EVENTS, 'events'), to);

    // Act
    const result = await replay(shipped, { from, to, history });

    // Assess
    expect(alertSpans(result).filter((a) => a.alert === 'VRAMHeadroomLow').map((a) => (a.end - a.start) / HOUR)).toEqual([6, 6]);
  });
});

describe('Function: replay, the last minute of a range', () => {
  // A backtest over the minutes an incident took ends between two ticks: what Alertmanager sent
  // after the last tick still reached the scaler, so it reaches the replay.
  it.each([
    { range: 'shorter than a minute', from: '2027-03-10T03:00:10-05:00', firedAt: '2027-03-10T03:00:30-05:00', to: '2027-03-10T03:00:50-05:00' },
    { range: 'ending after its last tick', from: '2027-03-10T02:58:00-05:00', firedAt: '2027-03-10T03:00:30-05:00', to: '2027-03-10T03:00:50-05:00' },
  ])('feeds an alert that fired after the last tick, in a range $range', async ({ from, firedAt, to }) => {
    // Prepare: off-peak, LLMQueueBuildup fires between the last tick and the end
    const span = { labels: { alertname: 'LLMQueueBuildup', service: 'worker-llm' }, annotations: {}, firedAt: Date.parse(firedAt) };
    const history = { notices: noticesFromSpans(shipped, [span], Date.parse(to)), metrics: [] };

    // Act
    const result = await replay(shipped, { from: Date.parse(from), to: Date.parse(to), history });

    // Assess
    expect(result.decisions.filter((d) => d.verdict === 'scale').map((d) => `${d.at} ${d.target} ${d.from}->${d.to} ${d.reasons[0]?.code}`)).toEqual([
      `${new Date(firedAt).toISOString()} worker-llm 2->3 ScaleUp`,
    ]);
  });
});

describe('Function: alertFingerprint', () => {
  it('is Alertmanager\'s: FNV-1a 64 over the sorted labels', () => {
    // Prepare: the empty set hashes to FNV-1a's offset basis, as prometheus/common's emptyLabelSignature
    // Assess
    expect(alertFingerprint({})).toBe('cbf29ce484222325');
    expect(alertFingerprint({ b: '2', a: '1' })).toBe(alertFingerprint({ a: '1', b: '2' }));
    expect(alertFingerprint({ alertname: 'LLMQueueBuildup', service: 'worker-llm' })).toMatch(/^[0-9a-f]{16}$/);
  });
});
