import { resolvePolicy } from '../shared/domain/resolve.ts';
import { activeWindow, zonedInstant } from '../shared/domain/schedule.ts';
import { loadPolicyFile } from '../shared/policyFile.ts';
import { replay } from '../shared/replay/replay.ts';
import { type BenchRow, median } from './measure.ts';

const MINUTE = 60_000;

/**
 * `simulate` over a year of the shipped policy, at minute resolution. The floor is the least a
 * minute-by-minute replay must do: walk every minute of the year and find each target's window
 * in force, nothing else. The replay runs the real tick and worker wherever anything can change.
 */
export const benchSimulate = async (): Promise<BenchRow[]> => {
  const policy = loadPolicyFile('policy.yaml');
  const zone = policy.timezone;
  const from = zonedInstant(Date.parse('2027-01-01T00:00:00Z'), 0, zone);
  const to = zonedInstant(Date.parse('2028-01-01T00:00:00Z'), 0, zone);
  const targets = resolvePolicy(policy).targets;
  const floor = () => {
    let changes = 0;
    const last = new Map<string, string | undefined>();
    for (let t = from; t < to; t += MINUTE) {
      for (const target of targets) {
        const id = activeWindow(target.schedules, t)?.schedule.id;
        if (id !== last.get(target.id)) changes += 1;
        last.set(target.id, id);
      }
    }
    return changes;
  };
  // Rounds alternate the floor and the measure; the median ratio is kept (as decide's bench).
  const rounds: { floor: number; replay: number; ticks: number; transitions: number }[] = [];
  for (let round = 0; round < 3; round++) {
    let started = performance.now();
    floor();
    const floorMs = performance.now() - started;
    started = performance.now();
    const result = await replay(policy, { from, to, history: { notices: [], metrics: [] } });
    rounds.push({ floor: floorMs, replay: performance.now() - started, ticks: result.ticks, transitions: result.decisions.filter((d) => d.verdict === 'scale').length });
  }
  const minutes = (to - from) / MINUTE;
  const last = rounds.at(-1);
  return [
    { name: `minute loop finding ${targets.length} targets' windows (${minutes} minutes)`, value: `${(median(rounds.map((r) => r.floor)) / 1000).toFixed(2)} s` },
    {
      name: `simulate 2027 of policy.yaml (${last?.transitions} transitions)`,
      value: `${(median(rounds.map((r) => r.replay)) / 1000).toFixed(2)} s`,
      ratio: median(rounds.map((r) => r.replay / r.floor)),
      floor: 'the minute loop',
    },
    { name: 'ticks run (the rest slept through: nothing could change)', value: `${last?.ticks} of ${minutes}` },
  ];
};
