import { DescribeNodegroupCommand } from '@aws-sdk/client-eks';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyStructuredResultV2, Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { CloudWatchMetricSource } from '../../../shared/adapters/aws/cloudWatchMetricSource.ts';
import { EksNodeGroupScaler } from '../../../shared/adapters/aws/eksNodeGroupScaler.ts';
import { EventBridgeSink } from '../../../shared/adapters/aws/eventBridgeSink.ts';
import { fifoGroupOf } from '../../../shared/app/gpuView.ts';
import { SqsIntentQueue } from '../../../shared/adapters/aws/sqsIntentQueue.ts';
import { SqsRetryBackoff } from '../../../shared/adapters/aws/sqsRetryBackoff.ts';
import { SsmStateStore } from '../../../shared/adapters/aws/ssmStateStore.ts';
import { SsmTickRecordStore } from '../../../shared/adapters/aws/ssmTickRecordStore.ts';
import { AwsServiceHealth } from '../../../shared/adapters/aws/serviceHealth.ts';
import { ssmToken } from '../../../shared/adapters/aws/webhookToken.ts';
import { SimulatedCluster } from '../../../shared/adapters/local/simulatedCluster.ts';
import type { Policy } from '../../../shared/domain/policy.ts';
import type { TargetState } from '../../../shared/domain/state.ts';
import { loadPolicyFile } from '../../../shared/policyFile.ts';
import type { StateStore } from '../../../shared/ports.ts';
import { ManualClock } from '../../support/clock.ts';
import { functionUrlEvent, lambdaContext } from '../../support/lambda.ts';
import { addNodegroup, createNodegroup, createQueues, emulatorClients, pumpQueue, putToken, uniqueName } from './aws.ts';

type Handlers = {
  webhook: typeof import('../../../functions/alertmanager-webhook/handler.ts');
  worker: typeof import('../../../functions/scaling-worker/handler.ts');
  tick: typeof import('../../../functions/schedule-tick/handler.ts');
  emergency: typeof import('../../../functions/emergency/handler.ts');
  status: typeof import('../../../functions/status/handler.ts');
};
let modules: Handlers | undefined;

export const TOKEN = 'test-token-0123456789';
/** Status's own read-only token. */
export const STATUS_TOKEN = 'test-status-token-9876543210';

/**
 * One isolated deployment of the service on the emulator: its own queue, node group, state
 * prefix and tokens, with the real handlers wired to real SDK clients and a manual clock.
 */
export const deploy = async (
  start: string,
  nodegroupSize = { min: 1, max: 20, desired: 1 },
  adjust: (policy: Policy) => Policy = (policy) => policy,
) => {
  const handlers = await loadHandlers();
  const clients = emulatorClients();
  const run = uniqueName('it');
  const prefix = `/gpu-autoscaler/${run}`;
  const tokenName = `${prefix}/webhook-token`;
  const statusTokenName = `${prefix}/status-token`;
  const cluster = `tensafe-${run}`;
  const { queueUrl, dlqUrl } = await createQueues(clients.sqs, run);
  await createNodegroup(clients.eks, cluster, 'gpu-workers', nodegroupSize);
  await putToken(clients.ssm, tokenName, TOKEN);
  await putToken(clients.ssm, statusTokenName, STATUS_TOKEN);
  const shipped = loadPolicyFile('policy.yaml');
  const policy = adjust({ ...shipped, targets: shipped.targets.map((t) => (t.kind === 'eks-nodegroup' ? { ...t, cluster } : t)) });
  // The policy's other node groups (HSOF's gpu-nodes, on a second cluster in AWS) live in the
  // same emulated cluster, at their minimum: every target can be read and scaled.
  for (const t of policy.targets) {
    if (t.kind === 'eks-nodegroup' && t.nodegroup !== 'gpu-workers') await addNodegroup(clients.eks, cluster, t.nodegroup, { min: t.min, max: t.max, desired: t.min });
  }
  const clock = new ManualClock(start);
  const ssmStore = new SsmStateStore(clients.ssm, prefix);
  // A crash at a write: the one that records an action as pending, or the one that finishes it.
  let failWrite: 'pending' | 'done' | undefined;
  const store: StateStore = {
    getMany: (ids) => ssmStore.getMany(ids),
    list: () => ssmStore.list(),
    put: async (state) => {
      if ((failWrite === 'pending' && state.pending) || (failWrite === 'done' && !state.pending)) {
        failWrite = undefined;
        throw new Error('the function was stopped before it wrote the state');
      }
      return ssmStore.put(state);
    },
  };
  const ticks = new SsmTickRecordStore(clients.ssm, prefix);
  const queue = new SqsIntentQueue(clients.sqs, queueUrl, fifoGroupOf(policy));
  const cluster_ = new SimulatedCluster(policy, clock);
  const workerDeps = { store, queue, nodeGroups: new EksNodeGroupScaler(clients.eks), workloads: cluster_, events: new EventBridgeSink(clients.events, 'default'), clock };
  const webhook = handlers.webhook.buildHandler({ policy, queue, clock, token: ssmToken(clients.ssm, tokenName) });
  const worker = handlers.worker.buildHandler(policy, workerDeps, new SqsRetryBackoff(clients.sqs, queueUrl, dlqUrl)) as unknown as (e: SQSEvent, c: Context) => Promise<SQSBatchResponse>;
  const tick = handlers.tick.buildHandler({ policy, store, ticks, queue, clock, metrics: new CloudWatchMetricSource(clients.cloudWatch) });
  const pump = () => pumpQueue(clients.sqs, queueUrl, worker);
  const emergency = handlers.emergency.buildHandler(policy, {
    queue, store, clock, timeoutMs: 10_000, pollMs: 0,
    // The worker runs between the emergency function's looks at the state, as it would in AWS.
    sleep: async () => void (await pump()),
  });
  const statusHandler = handlers.status.buildHandler({
    policy, store: ssmStore, ticks, clock, token: ssmToken(clients.ssm, statusTokenName), health: new AwsServiceHealth(clients.cloudWatch, clients.sqs, dlqUrl, clock),
  });
  return {
    clients,
    policy,
    clock,
    dlqUrl,
    queueUrl,
    tokenName,
    /** The stage's parameter path: `<prefix>/targets/<id>`, `<prefix>/tick`. */
    prefix,
    post: async (body: string | undefined, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
      (await webhook(functionUrlEvent(body, headers), lambdaContext('alertmanager-webhook'))) as APIGatewayProxyStructuredResultV2,
    pump,
    /** The worker handler as the event source mapping calls it. */
    worker,
    tick: () => tick({}, lambdaContext('schedule-tick')),
    emergency: (request: unknown) => emergency(request, lambdaContext('emergency')) as Promise<{ ok: boolean; outcomes: { status: string; decision?: { code: string } }[] }>,
    nodegroupSize: async () =>
      (await clients.eks.send(new DescribeNodegroupCommand({ clusterName: cluster, nodegroupName: 'gpu-workers' }))).nodegroup?.scalingConfig?.desiredSize,
    state: async (target: string) => {
      const { Parameter } = await clients.ssm.send(new GetParameterCommand({ Name: `${prefix}/targets/${target}` }));
      return JSON.parse(Parameter?.Value ?? '{}') as TargetState;
    },
    failStateWrite: (which: 'pending' | 'done') => {
      failWrite = which;
    },
    workloads: cluster_,
    /** A status request through its Function URL, on a fresh instance (a cold start): `path` `/metrics` for Prometheus, `/explain?target=T`. */
    status: async (headers: Record<string, string>, path = '/') => {
      const [rawPath = '/', rawQueryString = ''] = path.split('?');
      return (await statusHandler({ ...functionUrlEvent(undefined, headers, 'GET', rawPath), rawQueryString }, lambdaContext('status'))) as APIGatewayProxyStructuredResultV2;
    },
    /** The status function as its Function URL runs it, for a loopback server. */
    statusHandler,
    emergencyHandler: emergency,
    statusTokenName,
  };
};

/** Imports the handler modules once; they build their default wiring from the environment. */
const loadHandlers = async (): Promise<Handlers> => {
  if (modules) return modules;
  Object.assign(process.env, {
    STATE_PREFIX: '/gpu-autoscaler/import',
    QUEUE_URL: 'http://127.0.0.1:9/queue/import.fifo',
    TOKEN_PARAMETER: '/gpu-autoscaler/import/webhook-token',
    STATUS_TOKEN_PARAMETER: '/gpu-autoscaler/import/status-token',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  modules = {
    webhook: await import('../../../functions/alertmanager-webhook/handler.ts'),
    worker: await import('../../../functions/scaling-worker/handler.ts'),
    tick: await import('../../../functions/schedule-tick/handler.ts'),
    emergency: await import('../../../functions/emergency/handler.ts'),
    status: await import('../../../functions/status/handler.ts'),
  };
  return modules;
};

