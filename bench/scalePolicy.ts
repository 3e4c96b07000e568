import type { SQSClient } from '@aws-sdk/client-sqs';
import { SqsIntentQueue } from '../shared/adapters/aws/sqsIntentQueue.ts';
import type { Intent } from '../shared/domain/intent.ts';
import { type Policy, type PolicyInput, validatePolicy } from '../shared/domain/policy.ts';
import type { IntentQueue } from '../shared/ports.ts';

/** The size of a real platform: 1,000 targets on 20 clusters, 40 of them GPU pools. */
export const SCALE = { clusters: 20, poolsPerCluster: 2, gpuWorkloadsPerPool: 15, targets: 1000 } as const;
export const SCALE_ALERT = 'ScaleBenchLoad';
export const GPUS_PER_NODE = 8;
/** Queues of the emulator the intents are spread over (see shardedQueue). */
export const QUEUE_SHARDS = 20;

/** The pool's node group: min enough for every workload at its min (15 x 1 GPU on 8-GPU nodes). */
export const POOL_MIN = Math.ceil(SCALE.gpuWorkloadsPerPool / GPUS_PER_NODE);

const clusterOf = (c: number) => `cluster-${String(c).padStart(2, '0')}`;

/**
 * The scale bench's policy, generated and validated with the real schema: per cluster two GPU
 * pools of 15 GPU workloads each, and CPU Deployments (API tiers) for the rest, each target
 * with one rule scaling it up by one on `ScaleBenchLoad{target="<id>"}`. A GPU pool and its
 * workloads share one FIFO group, so the 1,000 targets are 40 + 360 groups.
 */
export const scalePolicy = (): Policy => {
  const targets: NonNullable<PolicyInput['targets']> = [];
  for (let c = 0; c < SCALE.clusters; c++) {
    for (let p = 0; p < SCALE.poolsPerCluster; p++) {
      const pool = `c${c}-pool-${p}`;
      targets.push({ id: pool, kind: 'eks-nodegroup', cluster: clusterOf(c), nodegroup: `gpu-${p}`, min: POOL_MIN, max: 20, gpusPerNode: GPUS_PER_NODE, idleAfter: '1h' });
      for (let w = 0; w < SCALE.gpuWorkloadsPerPool; w++) {
        targets.push({ id: `c${c}-p${p}-llm-${w}`, kind: 'deployment', namespace: 'ml', name: `llm-${p}-${w}`, min: 1, max: 10, gpusPerReplica: 1, pool });
      }
    }
  }
  const gpuTargets = targets.length;
  for (let i = 0; gpuTargets + i < SCALE.targets; i++) {
    const c = i % SCALE.clusters;
    targets.push({ id: `c${c}-api-${i}`, kind: 'deployment', cluster: clusterOf(c), namespace: 'api', name: `api-${i}`, min: 2, max: 50 });
  }
  const document: PolicyInput = {
    version: 1,
    timezone: 'UTC',
    targets,
    rules: targets.map((t) => ({ id: `${t.id}-load`, alert: SCALE_ALERT, matchers: [`target=${t.id}`], target: t.id, action: { type: 'step' as const, by: 1 }, cooldown: '5m' })),
  };
  const result = validatePolicy(document);
  if (!result.ok) throw new Error(`invalid scale policy: ${JSON.stringify(result.issues.slice(0, 3))}`);
  return result.policy;
};

/** The clusters and node groups the policy names, to create on the emulator. */
export const scaleNodeGroups = (policy: Policy): { cluster: string; nodegroup: string; size: number }[] =>
  policy.targets.flatMap((t) => (t.kind === 'eks-nodegroup' ? [{ cluster: t.cluster, nodegroup: t.nodegroup, size: t.min }] : []));

/** One Alertmanager notification with every target's alert firing at once. */
export const stormPayload = (policy: Policy, startsAt: string) => ({
  version: '4',
  status: 'firing',
  receiver: 'gpu-autoscaler',
  groupLabels: {},
  commonLabels: { alertname: SCALE_ALERT },
  commonAnnotations: {},
  externalURL: 'http://127.0.0.1:9093',
  truncatedAlerts: 0,
  alerts: policy.targets.map((t, i) => ({
    status: 'firing',
    labels: { alertname: SCALE_ALERT, target: t.id },
    annotations: {},
    startsAt,
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: i.toString(16).padStart(16, '0'),
  })),
});

/**
 * moto's FIFO queue slows with the messages it holds (each call scans them: 1,000 queued
 * intents took 109 s to send there, 100 took 1 s), so the scale benches spread the FIFO groups
 * over `urls.length` queues of the emulator, each through the real SqsIntentQueue. A group
 * always lands on the same queue, so its order holds; batches split at queue boundaries, so
 * the SendMessageBatch count is at most one per queue above a single queue's (printed).
 */
export const shardedQueue = (sqs: SQSClient, urls: readonly string[], groupOf: (target: string) => string): IntentQueue => {
  const queues = urls.map((url) => new SqsIntentQueue(sqs, url, groupOf));
  const shardOf = (target: string) => {
    const group = groupOf(target);
    let hash = 0;
    for (let i = 0; i < group.length; i++) hash = (hash * 31 + group.charCodeAt(i)) >>> 0;
    return hash % queues.length;
  };
  return {
    send: async (intents) => {
      const parts = queues.map(() => [] as Intent[]);
      for (const intent of intents) parts[shardOf(intent.target)]?.push(intent);
      await Promise.all(parts.map((part, i) => (part.length > 0 ? queues[i]?.send(part) : undefined)));
    },
  };
};
