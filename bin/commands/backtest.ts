import { parseDuration } from '../../shared/domain/duration.ts';
import type { Policy } from '../../shared/domain/policy.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { type History, noticesFromSpans } from '../../shared/replay/history.ts';
import { readAlertSpans } from '../../shared/replay/prometheus.ts';
import { replay, type ReplayResult } from '../../shared/replay/replay.ts';
import { costLines, differingTransitions, gpuNodeHours, localStamp, transitionJson, transitionLine } from '../../shared/replay/report.ts';
import { loadTimeline, timelineHistory } from '../../shared/replay/timeline.ts';
import { loadWebhookLog } from '../../shared/replay/webhookLog.ts';
import { UsageError } from './output.ts';
import { EXIT, parseFlags, parsePrice, parseRange, printRun, progressBar, runCommand, runJson, writePicture } from './replayOutput.ts';

const HISTORY_HELP = `      --prometheus URL: the ALERTS series of the policy's alerts, read with query_range every --step
        (default 15s), sent as the rendered Alertmanager route would: a notice when an alert fires, again
        every repeat_interval, and when it resolves (fingerprints as Alertmanager computes them).
      --alerts FILE: webhook bodies logged one JSON per line, each {"at": ISO, "body": {...}} (or a log
        record with "timestamp" and "body"), or a bare body (it counts at its newest startsAt/endsAt).
      Every target starts at its hard min with no state, as a first deployment would.`;

export const BACKTEST_USAGE = `Usage:
  gpu-autoscaler backtest --from DATE --to DATE (--prometheus URL [--step 15s] | --alerts FILE)
                          [--policy policy.yaml] [--price-per-node-hour N] [--out simulation] [--json]
      What this policy would have done: the replay of simulate, driven by real alert history. Same
      outputs as simulate (<out>/backtest.svg and .html). DATE as for simulate.
${HISTORY_HELP}
      Exit codes: 0 done, 1 an input is invalid or Prometheus cannot be read, 2 usage.
`;

export const DIFF_USAGE = `Usage:
  gpu-autoscaler diff OLD.yaml NEW.yaml --from DATE --to DATE
                      [--events FILE | --prometheus URL [--step 15s] | --alerts FILE]
                      [--price-per-node-hour N] [--out simulation] [--json]
      Both policies over the same history (the schedules alone without one), side by side: the
      transitions only the old policy takes (-) and only the new one takes (+), each policy's
      GPU-node-hours, and <out>/diff.svg and .html with both on each lane. DATE in OLD's time zone.
${HISTORY_HELP}
      Exit codes, as diff(1): 0 the same transitions, 1 they differ, 2 usage or an input is invalid.
`;

/** As diff(1): 0 the same, 1 different, 2 trouble. */
const DIFF_EXIT = { differ: 1, trouble: 2 } as const;

const historyFlags = {
  from: { type: 'string' },
  to: { type: 'string' },
  prometheus: { type: 'string' },
  alerts: { type: 'string' },
  step: { type: 'string', default: '15s' },
  'price-per-node-hour': { type: 'string' },
  out: { type: 'string', default: 'simulation' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

interface HistoryFlags {
  prometheus?: string | undefined;
  alerts?: string | undefined;
  events?: string | undefined;
  step: string;
}

/**
 * The history each policy meets. Alerts read from Prometheus become notices through each
 * policy's own route (its repeat_interval follows its alertTtl); logged bodies and timelines
 * are the same for both.
 */
const historyFor = async (values: HistoryFlags, policies: readonly Policy[], from: number, to: number): Promise<(policy: Policy) => History> => {
  const given = [values.prometheus, values.alerts, values.events].filter((v) => v !== undefined);
  if (given.length > 1) throw new UsageError('give one history: --prometheus, --alerts or --events');
  if (values.prometheus !== undefined) {
    const step = parseDuration(values.step);
    if (step === undefined || step === 0) throw new UsageError(`--step must be a duration such as 15s, got "${values.step}"`);
    const names = [...new Set(policies.flatMap((p) => [...p.rules, ...p.vetoes].map((r) => r.alert)))];
    const spans = await readAlertSpans(values.prometheus, names, from, to, step);
    return (policy) => ({ notices: noticesFromSpans(policy, spans, to), metrics: [] });
  }
  if (values.alerts !== undefined) {
    const notices = loadWebhookLog(values.alerts);
    return () => ({ notices, metrics: [] });
  }
  const timeline = values.events === undefined ? [] : loadTimeline(values.events);
  return (policy) => timelineHistory(policy, timeline, to);
};

const run = async (policy: Policy, label: string, history: History, from: number, to: number): Promise<ReplayResult> => {
  const bar = progressBar(label);
  return replay(policy, { from, to, history, progress: bar.update }).finally(bar.end);
};

export const backtest = (args: string[]): Promise<never> =>
  runCommand(BACKTEST_USAGE, async () => {
    const { values } = parseFlags({ args, options: { ...historyFlags, policy: { type: 'string', default: 'policy.yaml' } } });
    if (values.help) {
      process.stdout.write(BACKTEST_USAGE);
      return EXIT.ok;
    }
    if ((values.prometheus === undefined) === (values.alerts === undefined)) throw new UsageError('give either --prometheus URL or --alerts FILE');
    const policy = loadPolicyFile(values.policy);
    const { from, to } = parseRange(values, policy.timezone);
    const price = parsePrice(values['price-per-node-hour']);
    const history = await historyFor(values, [policy], from, to);
    const result = await run(policy, 'backtesting', history(policy), from, to);
    const source = values.prometheus ?? values.alerts ?? '';
    const files = await writePicture(values.out, 'backtest', [{ label: values.policy, result }], `gpu-autoscaler backtest: ${values.policy} on ${source}`);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ command: 'backtest', policy: values.policy, history: source, ...runJson(result, price), files }, null, 2)}\n`);
    } else {
      printRun(result, `backtest ${values.policy} on ${source}`, price);
      process.stdout.write(`wrote ${files.join(', ')}\n`);
    }
    return EXIT.ok;
  });

export const diff = (args: string[]): Promise<never> =>
  runCommand(DIFF_USAGE, async () => {
    const { values, positionals } = parseFlags({ args, allowPositionals: true, options: { ...historyFlags, events: { type: 'string' } } });
    if (values.help) {
      process.stdout.write(DIFF_USAGE);
      return EXIT.ok;
    }
    const [oldPath, newPath, ...extra] = positionals;
    if (oldPath === undefined || newPath === undefined || extra.length > 0) throw new UsageError('give two policy files: OLD.yaml NEW.yaml');
    const [oldPolicy, newPolicy] = [loadPolicyFile(oldPath), loadPolicyFile(newPath)];
    const { from, to } = parseRange(values, oldPolicy.timezone);
    const price = parsePrice(values['price-per-node-hour']);
    const history = await historyFor(values, [oldPolicy, newPolicy], from, to);
    const old = await run(oldPolicy, oldPath, history(oldPolicy), from, to);
    const next = await run(newPolicy, newPath, history(newPolicy), from, to);
    const differing = differingTransitions(old, next);
    const zone = oldPolicy.timezone;
    const table = {
      caption: `Transitions that differ (- only ${oldPath}, + only ${newPath})`,
      header: ['', 'local time', 'transition'],
      rows: differing.map(({ side, decision }) => [side, localStamp(Date.parse(decision.at), zone), transitionLine(decision, zone)]),
    };
    const files = await writePicture(values.out, 'diff', [{ label: oldPath, result: old }, { label: newPath, result: next }], `gpu-autoscaler diff: ${oldPath} vs ${newPath}`, [table]);
    if (values.json) {
      const side = (result: ReplayResult) => runJson(result, price);
      const changes = differing.map(({ side: s, decision }) => ({ side: s, ...transitionJson(decision, zone) }));
      process.stdout.write(`${JSON.stringify({ command: 'diff', old: { policy: oldPath, ...side(old) }, new: { policy: newPath, ...side(next) }, differing: changes, files }, null, 2)}\n`);
    } else {
      process.stdout.write(`diff ${oldPath} ${newPath}, ${localStamp(from, zone)} .. ${localStamp(to, zone)}: ${differing.length} transitions differ\n`);
      for (const { side, decision } of differing) process.stdout.write(`${side} ${transitionLine(decision, zone)}\n`);
      for (const [path, result] of [[oldPath, old], [newPath, next]] as const) {
        for (const line of costLines(gpuNodeHours(result), price)) process.stdout.write(`${path}: ${line}\n`);
      }
      process.stdout.write(`wrote ${files.join(', ')}\n`);
    }
    return differing.length === 0 ? EXIT.ok : DIFF_EXIT.differ;
  }, DIFF_EXIT.trouble);
