#!/usr/bin/env -S npx tsx
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { EMERGENCY_USAGE, emergencyCommand } from './commands/emergency.ts';
import { EXPLAIN_USAGE, explainCommand } from './commands/explain.ts';
import { EXIT, RefusedError, UnreachableError, UsageError } from './commands/output.ts';
import { STATUS_USAGE, statusCommand } from './commands/status.ts';
import { FileStateStore } from '../shared/adapters/local/fileStateStore.ts';
import { LocalAutoscaler } from '../shared/adapters/local/localAutoscaler.ts';
import { claimStateFolder, StateFolderError } from '../shared/adapters/local/stateFolder.ts';
import type { Policy } from '../shared/domain/policy.ts';
import { loadPolicyFile, PolicyError } from '../shared/policyFile.ts';
import type { Clock } from '../shared/ports.ts';
import { EXAMPLE_RECEIVER, renderAlertmanagerConfig } from '../shared/render/alertmanagerConfig.ts';
import { renderKubernetesRbac } from '../shared/render/kubernetesRbac.ts';
import { renderPrometheusRules } from '../shared/render/prometheusRules.ts';
import { backtest, diff } from './commands/backtest.ts';
import { parseInstant } from './commands/replayOutput.ts';
import { simulate } from './commands/simulate.ts';
import { EXAMPLE_STATUS, renderPrometheusScrapeConfig } from '../shared/render/prometheusScrape.ts';

/** `--start-at`, read as simulate reads `--from`; undefined when it is no date. */
const parseStartAt = (text: string, zone: string): Date | undefined => {
  try {
    return new Date(parseInstant('start-at', text, zone));
  } catch (error) {
    if (error instanceof UsageError) return undefined;
    throw error;
  }
};

const START_USAGE = `Usage: gpu-autoscaler start [--policy policy.yaml] [--port 8080] [--speed 1] [--start-at ISO] [--token T]
                            [--status-token S] [--state-dir .local-state] [--keep-state] [--ticks N]
  Runs the autoscaler locally on a simulated cluster and prints its decisions (npm start).
  --speed 60 makes one simulated minute pass every real second (demo clock).
  --token T requires "Authorization: Bearer T" on every request; without it, anyone who can reach
  127.0.0.1:<port> can scale and pause the targets.
  --state-dir keeps the targets' state; each start clears its .json files unless --keep-state. It must
  be new, empty or npm start's own, and not in use by another npm start.
Exit: 0 stopped (SIGINT, SIGTERM, or after --ticks N), 1 the policy is invalid, the port cannot be
  bound or the state folder cannot be used, 2 usage.
`;

const VALIDATE_USAGE = `Usage: gpu-autoscaler validate [policy.yaml]
  Checks a policy file and prints every problem found, with its field path and YAML line.
Exit: 0 valid, 1 invalid or unreadable.
`;

const RENDER_USAGE = `Usage: gpu-autoscaler render [--policy policy.yaml] [--out infra] [--webhook-url URL] [--credentials-file PATH]
                             [--status-url URL] [--status-credentials-file PATH]
  Writes the policy's Prometheus alerting rules to <out>/prometheus/gpu-autoscaler.rules.yml, the
  scrape job for the scaler's own series (GET /metrics on --status-url, with the read-only token in
  --status-credentials-file) to <out>/prometheus/gpu-autoscaler.scrape.yml, the
  Alertmanager route and receiver for the webhook to <out>/alertmanager/gpu-autoscaler.yml and the
  Kubernetes Roles naming the policy's Deployments and HPAs to <out>/k8s/rbac.yaml (one file per
  cluster, rbac.<cluster>.yaml, when the policy has several).
Exit: 0 written, 1 the policy is invalid, 2 usage (a URL that is not absolute).
`;

const USAGE = `Usage: gpu-autoscaler COMMAND [--help]
  The operator's command (README, "Operating it"). Each command prints its options with --help.

  The service, locally (--local [URL]) or deployed (--stage S --region R):
  status [TARGET...]                            the service's health and each target's state
      exit 0 healthy, 1 unhealthy, 2 usage, 3 the service could not be reached or read
  explain TARGET [--at ISO]                     why a target is where it is, and what happens now
      exit 0 explained, 1 unknown target or refused, 2 usage, 3 the service could not be reached or read
  emergency ACTION [TARGET...|--all] --reason TEXT   the runbooks' procedures, with the worker's outcome
      exit 0 every outcome decided, 1 refused or not decided in time, 2 usage, 3 the service could not be reached or read

  What would this policy do (the local runtime on a replayed clock, no AWS call):
  simulate --from DATE --to DATE [--events FILE]               its schedules and a timeline
      exit 0 done, 1 an input is invalid, 2 usage
  backtest --from DATE --to DATE (--prometheus URL | --alerts FILE)   driven by real alert history
      exit 0 done, 1 an input is invalid or Prometheus cannot be read, 2 usage
  diff OLD.yaml NEW.yaml --from DATE --to DATE                 two policies over the same history
      exit 0 the same transitions, 1 they differ, 2 usage or an input is invalid

  The policy, and local mode:
  validate [policy.yaml]                        checks a policy file
      exit 0 valid, 1 invalid or unreadable
  render [--policy FILE] [--out infra] ...      Prometheus rules, Alertmanager route, Kubernetes RBAC
      exit 0 written, 1 the policy is invalid, 2 usage
  start [--policy FILE] [--port 8080] ...       every function in one process on a simulated cluster (npm start)
      exit 0 stopped, 1 the policy, port or state folder cannot be used, 2 usage
`;

/** The operator's commands: each prints its own usage with --help and returns its exit code. */
const OPERATOR_COMMANDS: Record<string, { usage: string; run: (args: readonly string[]) => Promise<number> }> = {
  status: { usage: STATUS_USAGE, run: statusCommand },
  explain: { usage: EXPLAIN_USAGE, run: explainCommand },
  emergency: { usage: EMERGENCY_USAGE, run: emergencyCommand },
};

/** Runs an operator's command and maps what went wrong to the documented exit codes. */
const operate = async (name: string, args: readonly string[]): Promise<number> => {
  const command = OPERATOR_COMMANDS[name] as (typeof OPERATOR_COMMANDS)[string];
  try {
    return await command.run(args);
  } catch (error) {
    const say = (text: string) => void process.stderr.write(`${text}\n`);
    if (error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      say(`${(error as Error).message}\n\n${command.usage}`);
      return EXIT.usage;
    }
    if (error instanceof RefusedError) {
      say(`refused: ${error.message}${error.details.map((d) => `\n  ${JSON.stringify(d)}`).join('')}`);
      return EXIT.bad;
    }
    if (error instanceof UnreachableError) {
      say(error.message);
      return EXIT.unreachable;
    }
    throw error;
  }
};

/** A clock that starts at `startAt` and runs `speed` times faster than real time. */
const demoClock = (startAt: Date, speed: number): Clock => {
  const real0 = Date.now();
  return { now: () => new Date(startAt.getTime() + (Date.now() - real0) * speed) };
};

const load = (path: string): Policy => {
  try {
    return loadPolicyFile(path);
  } catch (error) {
    if (error instanceof PolicyError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
};

const summarize = (policy: Policy): string =>
  `${policy.targets.length} targets, ${policy.rules.length} rules, ${policy.vetoes.length} vetoes, ${policy.schedules.length} schedules (${policy.timezone})`;

const start = async (args: string[]): Promise<void> => {
  const { values } = parseArgs({
    args,
    options: {
      policy: { type: 'string', default: 'policy.yaml' },
      port: { type: 'string', default: '8080' },
      speed: { type: 'string', default: '1' },
      'start-at': { type: 'string' },
      token: { type: 'string' },
      'status-token': { type: 'string' },
      'state-dir': { type: 'string', default: '.local-state' },
      'keep-state': { type: 'boolean', default: false },
      ticks: { type: 'string' },
    },
  });
  const policy = load(values.policy);
  const speed = Number(values.speed);
  // As simulate reads --from: an instant with its offset, or a local date or time in the policy's zone.
  const startAt = values['start-at'] ? parseStartAt(values['start-at'], policy.timezone) : new Date();
  if (!(speed > 0) || startAt === undefined) {
    process.stderr.write(`--speed must be a positive number and --start-at an ISO date (2026-11-23), local time (2026-11-23T08:00) or instant with offset\n${START_USAGE}`);
    process.exit(2);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write(`--port must be a port number (0 picks a free one), got "${values.port}"\n${START_USAGE}`);
    process.exit(2);
  }
  const stateDir = values['state-dir'];
  const clock = demoClock(startAt, speed);
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const autoscaler = new LocalAutoscaler({
    policy,
    clock,
    store: new FileStateStore(stateDir),
    clusterHealth: true,
    ...(values.token ? { token: values.token } : {}),
    ...(values['status-token'] ? { statusToken: values['status-token'] } : {}),
    print,
  });
  // The port first: an npm start that cannot run must not touch the state folder.
  const url = await autoscaler.listen(port).catch((error: NodeJS.ErrnoException) => {
    process.stderr.write(
      error.code === 'EADDRINUSE'
        ? `port ${port} is in use (another npm start?); choose another with --port\n`
        : `cannot listen on 127.0.0.1:${port}: ${error.message}\n`,
    );
    return process.exit(1);
  });
  try {
    process.on('exit', claimStateFolder(stateDir, { keep: values['keep-state'], targets: policy.targets.map((t) => t.id) }));
  } catch (error) {
    if (!(error instanceof StateFolderError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  print(`gpu-autoscaler (local mode): ${summarize(policy)}`);
  print(`  policy ${values.policy}, state in ${stateDir}/, simulated cluster, clock x${speed} from ${startAt.toISOString()}`);
  print(`  webhook   curl -s -XPOST ${url}/webhook -H 'content-type: application/json' -d @events/alertmanager/llm-queue-firing.json`);
  print(`  status    curl -s ${url}/status`);
  print(`  metrics   curl -s ${url}/metrics         (Prometheus)`);
  print(`  emergency curl -s -XPOST ${url}/emergency -d '{"action":"double","target":"api","reason":"INC-1","actor":"$USER"}'`);
  if (!values.token) {
    process.stderr.write(
      `warning: no --token: every endpoint, /emergency included, answers anyone who can reach ${url} (it listens on 127.0.0.1 only: ` +
        'any user or program on this machine, and web pages open in its browsers); start with --token T to require "Authorization: Bearer T"\n',
    );
  }

  const stop = async () => {
    await autoscaler.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  await autoscaler.tickEvery(Math.max(50, 60_000 / speed), values.ticks === undefined ? Infinity : Number(values.ticks));
};

const validate = (args: string[]): void => {
  const path = args[0] ?? 'policy.yaml';
  const policy = load(path);
  process.stdout.write(`${path}: valid: ${summarize(policy)}\n`);
};

const render = async (args: string[]): Promise<void> => {
  const { values } = parseArgs({
    args,
    options: {
      policy: { type: 'string', default: 'policy.yaml' },
      out: { type: 'string', default: 'infra' },
      'webhook-url': { type: 'string', default: EXAMPLE_RECEIVER.webhookUrl },
      'credentials-file': { type: 'string', default: EXAMPLE_RECEIVER.credentialsFile },
      'status-url': { type: 'string', default: EXAMPLE_STATUS.statusUrl },
      'status-credentials-file': { type: 'string', default: EXAMPLE_STATUS.credentialsFile },
    },
  });
  const webhookUrl = values['webhook-url'];
  const statusUrl = values['status-url'];
  for (const [flag, url] of [['--webhook-url', webhookUrl], ['--status-url', statusUrl]]) {
    if (URL.canParse(url ?? '')) continue;
    process.stderr.write(`${flag} must be an absolute URL, got "${url}"\n${RENDER_USAGE}`);
    process.exit(2);
  }
  const policy = load(values.policy);
  const files = [
    { path: join(values.out, 'prometheus', 'gpu-autoscaler.rules.yml'), text: renderPrometheusRules(policy, { source: values.policy }) },
    {
      path: join(values.out, 'prometheus', 'gpu-autoscaler.scrape.yml'),
      text: renderPrometheusScrapeConfig({ source: values.policy, statusUrl, credentialsFile: values['status-credentials-file'] }),
    },
    {
      path: join(values.out, 'alertmanager', 'gpu-autoscaler.yml'),
      text: renderAlertmanagerConfig(policy, { source: values.policy, webhookUrl, credentialsFile: values['credentials-file'] }),
    },
    ...renderKubernetesRbac(policy, { source: values.policy }).map((rbac) => ({ path: join(values.out, 'k8s', rbac.fileName), text: rbac.text })),
  ];
  for (const file of files) {
    await mkdir(dirname(file.path), { recursive: true });
    await writeFile(file.path, file.text);
    process.stdout.write(`wrote ${file.path}\n`);
  }
};

const [command, ...rest] = process.argv.slice(2);
if (command !== undefined && command in OPERATOR_COMMANDS) process.exit(await operate(command, rest));
// start, validate and render answer --help here; simulate, backtest and diff parse their own.
const LOCAL_USAGE: Record<string, string> = { start: START_USAGE, validate: VALIDATE_USAGE, render: RENDER_USAGE };
const localUsage = command === undefined ? undefined : LOCAL_USAGE[command];
if (localUsage !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
  process.stdout.write(localUsage);
  process.exit(0);
}
switch (command) {
  case 'start':
    await start(rest);
    break;
  case 'validate':
    validate(rest);
    break;
  case 'render':
    await render(rest);
    break;
  case 'simulate':
    await simulate(rest);
    break;
  case 'backtest':
    await backtest(rest);
    break;
  case 'diff':
    await diff(rest);
    break;
  default:
    process.stdout.write(USAGE);
    process.exit(command === undefined || command === 'help' || command === '--help' ? 0 : 2);
}
