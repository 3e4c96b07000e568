import { parseArgs } from 'node:util';
import type { StatusReport, TargetStatus } from '../../shared/app/status.ts';
import { decisionLine, EXIT, type Out, output, rows, seconds, UsageError } from './output.ts';
import { CONNECTION_USAGE, connect, takeConnection } from './service.ts';

export const STATUS_USAGE = `Usage: gpu-autoscaler status [TARGET...] [--json] [--local [URL] | --stage S --region R]
  Per target: size live / desired, bounds in force and why, cooldowns left, warm-up, readiness, pause (until,
  since, why), firing alerts and vetoes, the last decisions with what caused and what limited them;
  and the service's health: the last tick, the dead-letter queue, states that could not be read.
  The runbook's "/infra/scaling/status: confirm the controller is responsive".
  --json   the status document as the service answers it (only the TARGETs asked for)
${CONNECTION_USAGE}
Exit: 0 healthy, 1 unhealthy (no tick for 3 minutes, dead letters, an unreadable state), 2 usage (an
  unknown TARGET too), 3 the service could not be reached or read.
`;

const boundsWhy = (t: TargetStatus): string => {
  const hard = `hard ${t.hardBounds.min}-${t.hardBounds.max}`;
  if (!t.window) return `${t.bounds.min}-${t.bounds.max} (${hard})`;
  const sizes = [t.window.desired !== undefined ? `desired ${t.window.desired}` : '', t.window.floor !== undefined ? `floor ${t.window.floor}` : '', t.window.ceiling !== undefined ? `ceiling ${t.window.ceiling}` : ''].filter(Boolean).join(', ');
  return `${t.bounds.min}-${t.bounds.max} (window ${t.window.id}${sizes ? `: ${sizes}` : ''}; ${hard})`;
};

/** Dropped vetoes by fingerprint: their alert names were not kept, and each holds the target until seen resolved or expired. */
const droppedVetoesLine = (dropped: NonNullable<TargetStatus['droppedVetoes']>): string =>
  [
    ...(dropped.fingerprints.length ? [`${dropped.fingerprints.map((d) => `${d.fingerprint} since ${d.since}`).join(', ')}: each holds until seen resolved`] : []),
    ...(dropped.forgottenUntil ? [`more not kept: held until ${dropped.forgottenUntil}`] : []),
  ].join('; ');

const targetTable = (out: Out, t: TargetStatus): void => {
  const mode = t.mode === 'shadow' ? ` ${out.paint('magenta', 'SHADOW: decisions recorded, no scaling API called')}` : '';
  out.line(`${out.paint('bold', t.id)} (${t.kind})${mode}`);
  const cooldowns = Object.entries(t.cooldowns).map(([rule, left]) => `${rule} ${seconds(left)}`);
  const list: [string, string][] = [
    ['size', `${t.live ?? '?'} live / ${t.desired ?? 'none yet'} desired${t.live === null ? ' (live size not read by this host)' : ''}`],
    ['bounds', boundsWhy(t)],
    ['cooldowns', cooldowns.length ? cooldowns.join(', ') : 'none running'],
    ['warm-up', t.warmupLeft > 0 ? `${seconds(t.warmupLeft)} left` : 'done'],
    // Where the host reads the pods (npm start; deployed, the worker reads them and its decisions say so).
    ...(t.readiness ? [['readiness', out.paint('yellow', `[${t.readiness.code}] ${t.readiness.message}`)] as [string, string]] : []),
    ['down delay', t.scaleDownDelayLeft > 0 ? `${seconds(t.scaleDownDelayLeft)} left` : 'none'],
    ['pause', t.pause ? out.paint('yellow', `until ${t.pause.until}${t.pause.since ? `, since ${t.pause.since}` : ''}: ${t.pause.reason}${t.pause.pinned ? ' (HPA pinned)' : ''}`) : 'none'],
    ['alerts', t.alerts.length ? t.alerts.map((a) => `${a.alertname} since ${a.since} (${a.rules.join(', ')})`).join('; ') : 'none firing'],
    ['vetoes', t.vetoes.length ? out.paint('red', t.vetoes.join(', ')) : 'none'],
    ...(t.droppedVetoes ? [['dropped vetoes', out.paint('red', droppedVetoesLine(t.droppedVetoes))] as [string, string]] : []),
  ];
  if (t.error) list.unshift(['state', out.paint('red', `UNREADABLE: ${t.error}`)]);
  const decisions = t.lastDecisions.length ? t.lastDecisions : undefined;
  rows(out, [...list, ['decisions', decisions ? `${decisions[0]?.at} ${decisionLine(out, decisions[0] as (typeof decisions)[number])}` : 'none yet']]);
  const width = Math.max(...list.map(([key]) => key.length), 'decisions'.length);
  for (const d of decisions?.slice(1) ?? []) out.line(`  ${' '.repeat(width)}  ${d.at} ${decisionLine(out, d)}`);
};

const health = (out: Out, report: StatusReport): void => {
  const tick = report.lastTickAt ? `last tick ${seconds((Date.parse(report.at) - Date.parse(report.lastTickAt)) / 1000)} ago` : 'no tick seen';
  const dlq = report.deadLetters === null ? 'dead letters not readable here' : `${report.deadLetters} dead letter(s)`;
  out.line(report.healthy ? `${out.paint('green', 'healthy')}: ${tick}, ${dlq}` : `${out.paint('red', 'UNHEALTHY')}: ${report.problems.join('; ')}`);
};

export const statusCommand = async (args: readonly string[]): Promise<number> => {
  const { connection, rest } = takeConnection(args);
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } });
  const out = output(process.stdout, values.json);
  if (values.help) {
    out.line(STATUS_USAGE);
    return EXIT.ok;
  }
  const service = await connect(connection);
  const report = await service.status();
  const unknown = positionals.filter((id) => !report.targets.some((t) => t.id === id));
  if (unknown.length) throw new UsageError(`unknown target(s) ${unknown.join(', ')}; the policy has ${report.targets.map((t) => t.id).join(', ')}`);
  const targets = positionals.length ? report.targets.filter((t) => positionals.includes(t.id)) : report.targets;
  if (values.json) out.json({ ...report, targets });
  else {
    out.line(`gpu-autoscaler at ${report.at}, ${service.where}`);
    health(out, report);
    for (const t of targets) {
      out.line();
      targetTable(out, t);
    }
  }
  return report.healthy ? EXIT.ok : EXIT.bad;
};
