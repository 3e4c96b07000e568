import { parseArgs } from 'node:util';
import { decisionLine, EXIT, output, UsageError } from './output.ts';
import { CONNECTION_USAGE, connect, takeConnection } from './service.ts';

const ACTIONS = ['double', 'set', 'scaleToMin', 'pause', 'resume', 'evaluateNow', 'deprovisionPool'] as const;
type Action = (typeof ACTIONS)[number];

export const EMERGENCY_USAGE = `Usage: gpu-autoscaler emergency ACTION [TARGET... | --all] --reason TEXT [--ttl D] [--replicas N]
                                [--idempotency-key K] [--json] [--local [URL] | --stage S --region R]
  The runbooks' emergency procedures, through the same queue as everything else; waits for the
  worker and prints each target's outcome as a decision line (before -> after [what decided or
  limited it] <- what proposed it). Bypasses cooldowns, windows, pauses and vetoes, never hard bounds.
  ACTION   double | set (--replicas N) | scaleToMin | pause (--ttl D) | resume | evaluateNow |
           deprovisionPool (eks-nodegroup targets)
  --all    every target: scaleToMin, pause, resume, evaluateNow (which without a target evaluates all)
  --reason why, kept with the decision and the pause
  --actor NAME   who asks, kept with the reason (default: with --stage your IAM identity's name,
           from sts:GetCallerIdentity; locally your user name)
  --ttl D  a pause's length (30m, 2h); on an HPA target, how long an emergency size pins it
           (refused on other targets' sizes: pause them after the command instead)
  --idempotency-key K   the same K sent again acts once and answers the same (safe to retry)
  --json   the outcomes as the service answers them
${CONNECTION_USAGE}
Exit: 0 every outcome decided, 1 refused or an outcome not decided in time, 2 usage, 3 the service
  could not be reached or read.
`;

export const emergencyCommand = async (args: readonly string[]): Promise<number> => {
  const { connection, rest } = takeConnection(args);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      reason: { type: 'string' },
      actor: { type: 'string' },
      ttl: { type: 'string' },
      replicas: { type: 'string' },
      all: { type: 'boolean', default: false },
      'idempotency-key': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const out = output(process.stdout, values.json);
  if (values.help) {
    out.line(EMERGENCY_USAGE);
    return EXIT.ok;
  }
  const [action, ...targets] = positionals;
  if (!ACTIONS.includes(action as Action)) throw new UsageError(`ACTION must be one of ${ACTIONS.join(', ')}${action ? `, got "${action}"` : ''}`);
  if (values.reason === undefined) throw new UsageError('--reason is required: it is kept with the decision');
  if (values.all && targets.length > 0) throw new UsageError('give TARGETs or --all, not both');
  if (!values.all && targets.length === 0 && action !== 'evaluateNow') throw new UsageError(`${action} needs a TARGET or --all`);
  if (action === 'set' && values.replicas === undefined) throw new UsageError('set needs --replicas N');
  if (action !== 'set' && values.replicas !== undefined) throw new UsageError(`--replicas goes with set only: ${action} takes no size`);
  if (action === 'pause' && values.ttl === undefined) throw new UsageError('pause needs --ttl D (30m, 2h): it resumes by itself');
  // Digits only: Number() reads "" (an unset shell variable) as 0, and "0x5" or "1e1" as sizes.
  if (values.replicas !== undefined && !/^\d{1,6}$/.test(values.replicas)) throw new UsageError(`--replicas must be a whole number, got "${values.replicas}"`);
  const replicas = values.replicas === undefined ? undefined : Number(values.replicas);
  const service = await connect(connection);
  const request = {
    action,
    reason: values.reason,
    actor: values.actor ?? (await service.actor()),
    ...(targets.length ? { targets } : {}),
    ...(values.all ? { all: true } : {}),
    ...(values.ttl !== undefined ? { ttl: values.ttl } : {}),
    ...(replicas !== undefined ? { replicas } : {}),
    ...(values['idempotency-key'] !== undefined ? { idempotencyKey: values['idempotency-key'] } : {}),
  };
  const outcomes = await service.emergency(request);
  if (values.json) out.json({ outcomes });
  else {
    for (const o of outcomes) {
      if (o.status === 'refused') out.line(`${out.paint('bold', o.target)} ${out.paint('red', 'REFUSED')}: its idempotency key was already used for another command on it; the other targets' outcomes stand`);
      else if (o.status !== 'applied') {
        const behind = typeof o.waitingBehind === 'string' ? `; it waits behind ${o.waitingBehind}` : '';
        out.line(`${out.paint('bold', o.target)} ${out.paint('red', 'NOT DECIDED')}: intent ${o.intent} still queued when the wait ended${behind}; see status (a command sent with --idempotency-key can be sent again: it acts once)`);
      }
      else if (!o.decision) out.line(`${out.paint('bold', o.target)} decided (intent ${o.intent}); its history no longer holds it`);
      else out.line(`${out.paint('bold', o.target)} ${decisionLine(out, o.decision)}`);
      if (typeof o.warning === 'string') out.line(`  ${out.paint('yellow', 'warning')}: ${o.warning}`);
    }
  }
  return outcomes.every((o) => o.status === 'applied') ? EXIT.ok : EXIT.bad;
};
