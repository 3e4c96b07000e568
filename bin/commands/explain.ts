import { parseArgs } from 'node:util';
import type { AuditedDecision, ExplainReport } from '../../shared/app/explain.ts';
import { decisionLine, EXIT, type Out, output, rows, UsageError } from './output.ts';
import { offsetInstant } from './replayOutput.ts';
import { CONNECTION_USAGE, connect, takeConnection } from './service.ts';

export const EXPLAIN_USAGE = `Usage: gpu-autoscaler explain TARGET [--at ISO] [--json] [--local [URL] | --stage S --region R]
  The reason chain of TARGET's recent decisions (the audit events where this host keeps them, the
  state's history otherwise), then what happens now: decide() run on the live state without acting,
  step by step: every source's candidate, the one the precedence table chose and why, each limit.
  --at ISO   explain that instant instead of now (history up to it; the dry run as a tick then)
  --json     the explain document as the service answers it
${CONNECTION_USAGE}
Exit: 0 explained, 1 unknown target or refused, 2 usage, 3 the service could not be reached or read.
`;

const auditLine = (out: Out, d: AuditedDecision): string => {
  const [headline, ...rest] = d.reasons;
  const line = decisionLine(out, { from: d.from, to: d.to, code: headline?.code ?? 'NoChange', message: `${d.rule ? `${d.rule}: ` : ''}${headline?.message ?? ''}`, ...(d.limitedBy && d.cause ? { cause: d.cause.code } : {}) });
  const more = rest.map((r) => `\n      ${out.paint('dim', `${r.code}: ${r.message}`)}`).join('');
  return `  ${d.at} ${d.source}${d.shadow ? ' (shadow)' : ''} ${line}${more}`;
};

const printNow = (out: Out, report: ExplainReport): void => {
  const { now } = report;
  out.line(out.paint('bold', `What happens now (a tick at ${report.at}, decided and not applied):`));
  out.line(`  starts from ${now.base}${now.window ? `, window ${now.window} in force` : ', no window in force'}`);
  out.line(`  1. candidates (every source's wish):${now.candidates.length ? '' : ' none: nothing asks for a change'}`);
  for (const c of now.candidates) {
    const mark = c.won ? out.paint('green', '* won ') : '      ';
    out.line(`     ${mark}${c.source}${c.rule ? ` ${c.rule}` : ''} (rank ${c.rank}) -> ${c.to} [${c.cause.code}] ${c.cause.message}`);
  }
  const chosen = now.chosen.source === 'none' ? `nothing to change (stays ${now.chosen.to})` : `${now.chosen.source} -> ${now.chosen.to}${now.chosen.cause ? ` [${now.chosen.cause.code}] ${now.chosen.cause.message}` : ''}`;
  out.line(`  2. chosen by precedence: ${chosen}`);
  for (const note of now.chosen.notes) out.line(`       ${out.paint('dim', `${note.code}: ${note.message}`)}`);
  out.line(`  3. limits${now.limits.length ? ` for ${now.chosen.source} (${now.chosen.to > now.base ? 'up' : 'down'}), in order:` : ': none run (no change proposed)'}`);
  const paintOutcome = (outcome: string) => (outcome === 'applied' ? out.paint('yellow', outcome) : outcome === 'passed' ? out.paint('green', outcome) : out.paint('dim', outcome));
  if (now.limits.length) {
    rows(out, now.limits.map((l) => [l.limit, `${paintOutcome(l.outcome)}${l.reason ? ` [${l.reason.code}] ${l.reason.message}` : ''}`] as const), '       ');
  }
  const d = now.decision;
  out.line(`  4. decision: ${d.verdict} ${decisionLine(out, { from: d.from, to: d.to, code: d.reasons[0]?.code ?? 'NoChange', message: d.reasons[0]?.message ?? '', ...(d.limitedBy && d.cause ? { cause: d.cause.code } : {}) })}`);
  for (const r of d.reasons.slice(1)) out.line(`       ${out.paint('dim', `${r.code}: ${r.message}`)}`);
  if (report.mode === 'shadow') out.line(`  ${out.paint('magenta', 'shadow mode: the worker would record this and call no scaling API')}`);
};

export const explainCommand = async (args: readonly string[]): Promise<number> => {
  const { connection, rest } = takeConnection(args);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { at: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  const out = output(process.stdout, values.json);
  if (values.help) {
    out.line(EXPLAIN_USAGE);
    return EXIT.ok;
  }
  const [target, ...extra] = positionals;
  if (target === undefined || extra.length > 0) throw new UsageError('explain takes one TARGET');
  // As GET /explain takes it: an instant without its offset would be read in this machine's zone.
  if (values.at !== undefined && !offsetInstant.safeParse(values.at).success) throw new UsageError(`--at must be an ISO instant with its offset, got "${values.at}"`);
  const at = values.at === undefined ? undefined : new Date(values.at).toISOString();
  const service = await connect(connection);
  const report = await service.explain(target, at);
  if (values.json) {
    out.json(report);
    return EXIT.ok;
  }
  out.line(`${out.paint('bold', report.target)}${report.mode === 'shadow' ? ` ${out.paint('magenta', '(shadow)')}` : ''} at ${report.at}, ${service.where}`);
  if (report.audit) {
    out.line(out.paint('bold', 'Recent decisions (audit events kept by this host, newest first):'));
    for (const d of report.audit) out.line(auditLine(out, d));
    if (report.audit.length === 0) out.line('  none yet');
  } else {
    out.line(out.paint('bold', "Recent decisions (the state's history, newest first; the audit events are on the EventBridge bus):"));
    for (const h of report.history) out.line(`  ${h.at} ${decisionLine(out, h)}`);
    if (report.history.length === 0) out.line('  none yet');
  }
  printNow(out, report);
  return EXIT.ok;
};
