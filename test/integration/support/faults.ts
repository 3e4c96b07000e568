import { DescribeNodegroupCommand, type EKSClient } from '@aws-sdk/client-eks';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { clientRequestToken, EksNodeGroupScaler } from '../../../shared/adapters/aws/eksNodeGroupScaler.ts';
import { EventBridgeSink } from '../../../shared/adapters/aws/eventBridgeSink.ts';
import { SqsIntentQueue } from '../../../shared/adapters/aws/sqsIntentQueue.ts';
import { SqsRetryBackoff } from '../../../shared/adapters/aws/sqsRetryBackoff.ts';
import { SsmStateStore } from '../../../shared/adapters/aws/ssmStateStore.ts';
import type { WorkerDeps } from '../../../shared/app/applyIntent.ts';
import { fifoGroupOf } from '../../../shared/app/gpuView.ts';
import type { Intent } from '../../../shared/domain/intent.ts';
import type { Target } from '../../../shared/domain/policy.ts';
import type { TargetState } from '../../../shared/domain/state.ts';
import { logger } from '../../../shared/observability.ts';
import type { StateRead } from '../../../shared/ports.ts';
import { lambdaContext, sqsEventOfReceived } from '../../support/lambda.ts';
import { deploy } from './deployment.ts';

/** A call the worker makes to a service, as a fault sees it. */
export interface Call {
  service: 'ssm' | 'eks' | 'events' | 'k8s';
  /** The SDK command's name, or `get` / `patch` for Kubernetes. */
  command: string;
  input: Record<string, unknown>;
  /** The intent whose record the worker is on (see {@link FaultWorld.pump}). */
  intent?: Intent;
}

/**
 * One fault: the first `times` calls that match fail. `throw` answers with an error, before
 * the call reaches the service or (`after`) once it has done its work and the answer is lost;
 * `kill` stops the function there, as a Lambda timeout does: the invocation never returns and
 * its whole batch comes back.
 */
export interface Fault {
  on: (call: Call) => boolean;
  effect: { kind: 'throw'; error: (call: Call) => Error; after?: boolean } | { kind: 'kill'; after?: boolean };
  times?: number;
}

/** What one scaling call did, as the emulator (or the simulated cluster) took it. */
export interface ScalingCall {
  target: string;
  /** The intent it was made for: the EKS request token or the workload call's token, resolved. */
  intent: string;
  from: number;
  to: number;
}

/** An audit event EventBridge accepted. */
export interface AuditEvent {
  target: string;
  intent: string;
  from: number;
  to: number;
  verdict: string;
  possibleDuplicate: boolean;
}

/** A decision the worker reported (its log line, as CloudWatch Logs would keep it). */
export interface DecisionLine {
  target: string;
  intent: string;
  verdict: string;
  from: number;
  to: number;
  code: string;
}

/** The counts the fault table asserts on, per case. */
export interface Outcome {
  injected: number;
  lost: number;
  doubles: number;
  unaudited: number;
  /** Messages left in the queue or its DLQ once the pump stopped. */
  stuck: number;
  /** Live sizes of every target at the end. */
  sizes: Record<string, number>;
  /** For a failing assertion: what happened. */
  detail: { lost: string[]; doubles: string[]; unaudited: string[]; decisions: DecisionLine[]; calls: ScalingCall[] };
}

type Middleware = (next: (args: { input: Record<string, unknown> }) => Promise<unknown>, context: { commandName: string }) => (args: { input: Record<string, unknown> }) => Promise<unknown>;
const addMiddleware = (client: { middlewareStack: unknown }, name: string, middleware: Middleware): void =>
  (client.middlewareStack as { add: (m: Middleware, o: unknown) => void }).add(middleware, { step: 'initialize', name });

const never = new Promise<never>(() => undefined);

/**
 * A deployment on the emulator (see deployment.ts) whose worker the test drives batch by batch
 * through the real scaling-worker handler, with faults injected into the calls it makes and a
 * ledger of what reached the emulator: intents queued, scaling calls, audit events, pending
 * records, and the decisions the worker logged.
 */
export const faultWorld = async (...args: Parameters<typeof deploy>) => {
  const world = await deploy(...args);
  const handlers = {
    worker: await import('../../../functions/scaling-worker/handler.ts'),
    emergency: await import('../../../functions/emergency/handler.ts'),
  };
  const { policy, clients, clock } = world;
  const prefix = world.tokenName.replace(/\/webhook-token$/, '');
  const nodegroups = policy.targets.flatMap((t) => (t.kind === 'eks-nodegroup' ? [t] : []));

  // The ledger
  const intents = new Map<string, Intent>();
  const calls: (ScalingCall & { changed: boolean })[] = [];
  const audits: AuditEvent[] = [];
  const decisions: DecisionLine[] = [];
  const pendingRecords: { target: string; intent: string; to: number }[] = [];
  const faults: Fault[] = [];
  let injected = 0;
  let inWorker = false;
  let killed: (() => void) | undefined;
  let current: Intent | undefined;
  let batch: { intent: Intent; started: boolean }[] = [];

  /** Applies the armed faults to a call the worker makes; `send` makes the call. */
  const faulted = async <T>(call: Call, send: () => Promise<T>): Promise<T> => {
    const fault = inWorker ? faults.find((f) => (f.times ?? 1) > 0 && f.on({ ...call, ...(current ? { intent: current } : {}) })) : undefined;
    if (!fault) return send();
    fault.times = (fault.times ?? 1) - 1;
    injected += 1;
    const result = fault.effect.after ? await send() : undefined;
    if (fault.effect.kind === 'kill') {
      killed?.();
      return never;
    }
    throw fault.effect.error({ ...call, ...(current ? { intent: current } : {}) });
  };

  const serviceOf = { ssm: clients.ssm, eks: clients.eks, events: clients.events } as const;
  for (const [service, client] of Object.entries(serviceOf) as [Call['service'], { middlewareStack: unknown }][]) {
    addMiddleware(client, 'injectFaults', (next, context) => (args) => faulted({ service, command: context.commandName, input: args.input }, () => next(args)));
  }

  // Node group sizes as EKS holds them, to tell a call that changed one.
  const nodegroupSizes = new Map<string, number>();
  for (const t of nodegroups) {
    const { nodegroup } = await clients.eks.send(new DescribeNodegroupCommand({ clusterName: t.cluster, nodegroupName: t.nodegroup }));
    nodegroupSizes.set(t.id, nodegroup?.scalingConfig?.desiredSize ?? 0);
  }
  const intentOfToken = (token: string, to: number): string =>
    [...intents.keys()].find((id) => clientRequestToken(id, to) === token) ?? `unknown token ${token.slice(0, 8)}`;
  addMiddleware(clients.eks, 'ledgerEks', (next, context) => async (args) => {
    const output = await next(args);
    if (context.commandName === 'UpdateNodegroupConfigCommand') {
      const input = args.input as { nodegroupName: string; scalingConfig: { desiredSize: number }; clientRequestToken: string };
      const target = nodegroups.find((t) => t.nodegroup === input.nodegroupName)?.id ?? input.nodegroupName;
      const from = nodegroupSizes.get(target) ?? 0;
      const to = input.scalingConfig.desiredSize;
      nodegroupSizes.set(target, to);
      calls.push({ target, intent: intentOfToken(input.clientRequestToken, to), from, to, changed: from !== to });
    }
    return output;
  });
  addMiddleware(clients.events, 'ledgerEvents', (next, context) => async (args) => {
    const output = (await next(args)) as { output?: { Entries?: { ErrorCode?: string }[] } };
    if (context.commandName === 'PutEventsCommand') {
      const entries = (args.input as { Entries: { Detail: string }[] }).Entries;
      entries.forEach((entry, i) => {
        if (output.output?.Entries?.[i]?.ErrorCode) return;
        const d = JSON.parse(entry.Detail) as { target: string; intentId: string; from: number; to: number; verdict: string; possibleDuplicate?: boolean };
        audits.push({ target: d.target, intent: d.intentId, from: d.from, to: d.to, verdict: d.verdict, possibleDuplicate: d.possibleDuplicate === true });
      });
    }
    return output;
  });
  addMiddleware(clients.sqs, 'ledgerIntents', (next, context) => async (args) => {
    const output = (await next(args)) as { output?: { Failed?: { Id: string }[] } };
    if (context.commandName === 'SendMessageBatchCommand') {
      const failed = new Set((output.output?.Failed ?? []).map((f) => f.Id));
      for (const entry of (args.input as { Entries: { Id: string; MessageBody: string }[] }).Entries) {
        if (failed.has(entry.Id)) continue;
        const intent = JSON.parse(entry.MessageBody) as Intent;
        intents.set(intent.id, intent);
      }
    }
    return output;
  });
  addMiddleware(clients.ssm, 'ledgerPending', (next, context) => async (args) => {
    const output = await next(args);
    if (context.commandName === 'PutParameterCommand' && typeof args.input['Value'] === 'string' && (args.input['Value'] as string).includes('"pending"')) {
      const state = JSON.parse(args.input['Value'] as string) as TargetState;
      if (state.pending) pendingRecords.push({ target: state.target, intent: state.pending.audit.intent, to: state.pending.to });
    }
    return output;
  });

  // Kubernetes stands in as the simulated cluster: its calls meet the same faults.
  const workloads = world.workloads;
  const scaleTo = workloads.scaleTo.bind(workloads);
  const currentOf = workloads.current.bind(workloads);
  workloads.current = (target: Target) => faulted({ service: 'k8s', command: 'get', input: { target: target.id } }, () => currentOf(target));
  workloads.scaleTo = async (target, desired, token?: string) => {
    const from = await currentOf(target);
    await faulted({ service: 'k8s', command: 'patch', input: { target: target.id, desired } }, async () => {
      await scaleTo(target, desired);
      calls.push({ target: target.id, intent: token ?? '', from, to: desired, changed: from !== desired });
    });
  };

  // The worker's wiring, as deploy() makes it, with a store that says which record it is on.
  const ssmStore = new SsmStateStore(clients.ssm, prefix);
  const store = {
    getMany: (ids: readonly string[]): Promise<StateRead> => {
      const next = batch.find((r) => !r.started && r.intent.target === ids[0]);
      if (next) {
        next.started = true;
        current = next.intent;
      }
      return ssmStore.getMany(ids);
    },
    list: () => ssmStore.list(),
    put: (state: TargetState) => ssmStore.put(state),
  };
  const queue = new SqsIntentQueue(clients.sqs, world.queueUrl, fifoGroupOf(policy));
  const events = new EventBridgeSink(clients.events, 'default');
  const newWorker = () => {
    const deps: WorkerDeps = { store, queue, nodeGroups: new EksNodeGroupScaler(clients.eks), workloads, events, clock };
    return handlers.worker.buildHandler(policy, deps, new SqsRetryBackoff(clients.sqs, world.queueUrl, world.dlqUrl)) as unknown as (e: SQSEvent, c: Context) => Promise<SQSBatchResponse>;
  };
  let worker = newWorker();

  // The decisions the worker logs (INFO), read from its structured log lines.
  const captureDecisions = (): (() => void) => {
    const write = process.stdout.write.bind(process.stdout);
    const level = logger.getLevelName();
    logger.setLogLevel('INFO');
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = String(chunk);
      if (!text.startsWith('{')) return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        const message = String(entry['message'] ?? '');
        if (typeof entry['verdict'] === 'string' && /^\S+ (scale|hold|none) /.test(message)) {
          const reasons = entry['reasons'] as { code: string }[] | undefined;
          decisions.push({ target: String(entry['target']), intent: String(entry['intentId']), verdict: String(entry['verdict']), from: Number(entry['from']), to: Number(entry['to']), code: reasons?.[0]?.code ?? 'NoChange' });
        }
      }
      return true;
    }) as typeof process.stdout.write;
    // The worker's WARN and ERROR lines (retries the faults cause) and the metrics' notices go
    // to stderr: the ledger does not need them, the test output is better without them.
    const writeErr = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = String(chunk);
      if (text.startsWith('{"level"') || text.startsWith('No application metrics')) return true;
      return (writeErr as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    return () => {
      process.stderr.write = writeErr;
      process.stdout.write = write;
      logger.setLogLevel(level);
    };
  };
  const release = captureDecisions();

  const contextFor = (remainingMs: number): Context => ({ ...lambdaContext('scaling-worker'), getRemainingTimeInMillis: () => remainingMs });

  /**
   * Feeds the queue to the worker as the event source mapping does (batches of 10, successes
   * deleted, failures visible again at once) until it is empty. A killed invocation returns
   * nothing: its whole batch comes back, to a fresh instance of the function.
   */
  let timeLeft = 60_000;
  const pump = async ({ rounds = 30, remainingMs = timeLeft } = {}) => {
    const tally = { processed: 0, failed: 0, killed: 0 };
    for (let round = 0; round < rounds; round++) {
      const { Messages = [] } = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: world.queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) break;
      batch = Messages.map((m) => ({ intent: JSON.parse(m.Body ?? '{}') as Intent, started: false }));
      const event = sqsEventOfReceived(Messages);
      const stopped = new Promise<'killed'>((resolve) => {
        killed = () => resolve('killed');
      });
      inWorker = true;
      const answer = await Promise.race([worker(event, contextFor(remainingMs)), stopped]);
      inWorker = false;
      current = undefined;
      if (answer === 'killed') {
        tally.killed += 1;
        worker = newWorker();
        for (const m of Messages) await clients.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: world.queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
        continue;
      }
      const failedIds = new Set(answer.batchItemFailures.map((f) => f.itemIdentifier));
      for (const m of Messages) {
        if (failedIds.has(m.MessageId ?? '')) {
          tally.failed += 1;
          await clients.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: world.queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
        } else {
          tally.processed += 1;
          await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: world.queueUrl, ReceiptHandle: m.ReceiptHandle }));
        }
      }
    }
    return tally;
  };

  const emergencyHandler = handlers.emergency.buildHandler(policy, {
    queue, store: ssmStore, clock, timeoutMs: 10_000, pollMs: 0,
    // The worker runs between the emergency function's looks at the state, as it would in AWS.
    sleep: async () => void (await pump()),
  });

  const messagesIn = async (queueUrl: string): Promise<number> => {
    const { Attributes = {} } = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
  };

  const sizes = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const t of policy.targets) {
      if (t.kind === 'eks-nodegroup') {
        const { nodegroup } = await clients.eks.send(new DescribeNodegroupCommand({ clusterName: t.cluster, nodegroupName: t.nodegroup }));
        out[t.id] = nodegroup?.scalingConfig?.desiredSize ?? -1;
      } else {
        out[t.id] = await currentOf(t);
      }
    }
    return out;
  };

  /** The counts, from the ledger: call once the queue is empty. */
  const outcome = async (): Promise<Outcome> => {
    const key = (target: string, intent: string) => `${target} ${intent}`;
    const explained = new Set(decisions.map((d) => d.intent));
    const lost = [...intents.values()].filter((i) => !explained.has(i.id)).map((i) => `${i.target} ${i.source} ${i.id}: no decision`);
    for (const d of decisions.filter((x) => x.verdict === 'scale')) {
      if (!calls.some((c) => c.target === d.target && c.intent === d.intent && c.to === d.to)) lost.push(`${d.target} ${d.intent}: decided ${d.from} -> ${d.to}, no such call`);
    }
    const changing = calls.filter((c) => c.changed);
    const doubles: string[] = [];
    let doubled = 0;
    for (const target of new Set(changing.map((c) => c.target))) {
      const mine = changing.filter((c) => c.target === target);
      const scaled = new Set([...pendingRecords.filter((p) => p.target === target).map((p) => p.intent), ...decisions.filter((d) => d.target === target && d.verdict === 'scale').map((d) => d.intent)]);
      const perIntent = [...new Set(mine.map((c) => c.intent))].reduce((n, id) => n + Math.max(0, mine.filter((c) => c.intent === id).length - 1), 0);
      const extra = Math.max(mine.length - scaled.size, perIntent, 0);
      doubled += extra;
      if (extra > 0) doubles.push(`${target}: ${mine.length} changing call(s) (${mine.map((c) => `${c.from}->${c.to}`).join(', ')}) for ${scaled.size} decision(s) that scaled`);
    }
    const unaudited = changing
      .filter((c) => !audits.some((a) => a.verdict === 'scale' && key(a.target, a.intent) === key(c.target, c.intent) && a.to === c.to))
      .map((c) => `${c.target} ${c.from} -> ${c.to} (${c.intent})`);
    const stuck = (await messagesIn(world.queueUrl)) + (await messagesIn(world.dlqUrl));
    return {
      injected,
      lost: lost.length,
      doubles: doubled,
      unaudited: unaudited.length,
      stuck,
      sizes: await sizes(),
      detail: { lost, doubles, unaudited, decisions: [...decisions], calls: [...calls] },
    };
  };

  return {
    ...world,
    prefix,
    pump,
    emergency: (request: unknown) => emergencyHandler(request, lambdaContext('emergency')) as Promise<{ ok: boolean; outcomes: { status: string; decision?: { code: string } }[] }>,
    inject: (fault: Fault) => void faults.push(fault),
    /** The time left to the worker's invocations, as their context tells it (60 s unless set). */
    timeLeft: (ms: number) => {
      timeLeft = ms;
    },
    /** Clears the ledger: what a setup did is not counted. */
    forget: () => {
      intents.clear();
      for (const list of [calls, audits, decisions, pendingRecords] as unknown[][]) list.length = 0;
      injected = 0;
    },
    /** Faults armed and not yet fired. */
    unfired: () => faults.filter((f) => (f.times ?? 1) > 0).length,
    intents,
    calls,
    audits,
    decisions,
    sizes,
    outcome,
    /** Stops reading the worker's log lines (call in a finally). */
    release,
  };
};

export type FaultWorld = Awaited<ReturnType<typeof faultWorld>>;
