import { z } from 'zod';
import { durationSchema as durationText } from './duration.ts';
import { PRIORITIES } from './precedence.ts';
import { WEEKDAYS } from './schedule.ts';
import { sharedMoment } from './windowOverlap.ts';

// The one duration schema (zod/mini, which the bundles parse emergency commands with), given
// classic zod's methods (.default, .optional) for the policy's many duration fields.
const durationSchema = z.pipe(durationText, z.number());

const idSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'use lowercase letters, digits and dashes (at most 63)');

const replicasSchema = z.number().int().nonnegative();

const isTimeZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

export const timeZoneSchema = z
  .string()
  .refine(isTimeZone, { error: (issue) => `unknown IANA time zone "${String(issue.input)}"` });

/** `HH:MM` on a 24-hour clock; `24:00` closes a window at midnight. */
const clockSchema = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'expected HH:MM, 00:00 to 24:00')
  .transform((text) => {
    const [hours, minutes] = text.split(':').map(Number);
    return (hours ?? 0) * 60 + (minutes ?? 0);
  });

const dateSchema = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date as YYYY-MM-DD');

/**
 * An Alertmanager-style label matcher written as a string: `service=worker-llm`,
 * `severity!=info`, `pod=~worker-.*`, `zone!~us-.*`.
 */
const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$/;
export const matcherSchema = z.string().transform((text, ctx) => {
  const match = MATCHER.exec(text);
  if (!match) {
    ctx.addIssue({ code: 'custom', message: `expected label=value, label!=value, label=~regex or label!~regex, got "${text}"` });
    return z.NEVER;
  }
  const [, label = '', op = '=', value = ''] = match;
  if (op === '=~' || op === '!~') {
    try {
      new RegExp(`^(?:${value})$`);
    } catch {
      ctx.addIssue({ code: 'custom', message: `invalid regular expression in "${text}"` });
      return z.NEVER;
    }
  }
  return { label, op: op as '=' | '!=' | '=~' | '!~', value, text };
});
export type Matcher = z.infer<typeof matcherSchema>;

/** A Prometheus metric name the policy gives a value of its own (a target's size, a metric rule's reading). */
const gaugeNameSchema = z.string().regex(/^[a-z_][a-z0-9_]*$/, 'expected a Prometheus metric name such as scaling_oms_replicas');

/** The series the scaler exposes whatever the policy says; a `gauge` cannot take their names. */
export const OWN_SERIES = ['scaling_replicas', 'scaling_gpu_nodes', 'scaling_evaluations_total', 'scaling_evaluation_duration_seconds'] as const;

/**
 * One rate of a rate limit, as one of HPA v2 behavior's policies: at most `by` replicas (nodes
 * for a node group), or `percent` of the size at the start of the period, per `per`.
 */
const rateSchema = (maxPercent: number) =>
  z.union([
    z.strictObject({ by: z.number().int().positive(), per: durationSchema }),
    z.strictObject({ percent: z.number().positive().max(maxPercent), per: durationSchema }),
  ]);

/** How fast automatic decisions may move a target (HPA v2 behavior's `policies` and `selectPolicy`). */
const rateLimitSchema = z.strictObject({
  up: z.array(rateSchema(10_000)).min(1).optional(),
  down: z.array(rateSchema(100)).min(1).optional(),
  /** With several rates in a direction: `max` allows the largest change of them (HPA's default), `min` the smallest. */
  select: z.enum(['max', 'min']).default('max'),
  /**
   * How long the rules must keep asking for a change in a direction before it is made (HPA's
   * stabilizationWindowSeconds): a wish that lapses within the window starts it again.
   */
  stabilizationWindow: z.strictObject({ up: durationSchema.optional(), down: durationSchema.optional() }).optional(),
});
export type RateLimit = z.infer<typeof rateLimitSchema>;

/** The Prometheus side of a rule, rendered into alerting rules. */
const prometheusRuleSchema = z.strictObject({
  expr: z.string().min(1),
  for: z.string().regex(/^\d+(s|m|h)$/, 'expected a Prometheus duration such as 2m').default('0s'),
  labels: z.record(z.string(), z.string()).default({}),
  summary: z.string().optional(),
});

const targetCommon = {
  id: idSchema,
  min: replicasSchema,
  max: replicasSchema,
  /** Time a new replica or node needs before another step up counts (model loading, node join). */
  warmup: durationSchema.default(0),
  /** How far one scale-down may go: the runbooks remove one at a time. */
  maxStepDown: z.number().int().positive().default(1),
  /** Overrides `defaults.scaleDownDelay` for this target. */
  scaleDownDelay: durationSchema.optional(),
  /** At most this much change per period from automatic sources (operator commands and bounds are not limited). */
  rateLimit: rateLimitSchema.optional(),
  /** What to do when the live size differs from what the scaler last set. */
  onDrift: z.enum(['adopt', 'restore']).default('adopt'),
  /** Also expose the target's size under this name, besides scaling_replicas (the runbook's scaling_oms_replicas). */
  gauge: gaugeNameSchema.optional(),
  /** Overrides `defaults.mode` for this target. */
  mode: z.enum(['live', 'shadow']).optional(),
  description: z.string().optional(),
};

const workloadCommon = {
  ...targetCommon,
  namespace: z.string().min(1),
  name: z.string().min(1),
  gpusPerReplica: z.number().int().nonnegative().default(0),
  /** The EKS cluster; defaults to the pool's, or to the only cluster the policy names. */
  cluster: z.string().min(1).optional(),
  /** The `eks-nodegroup` target whose GPUs this workload's pods run on. */
  pool: idSchema.optional(),
  /**
   * Hold the next automatic scale-up until the last step's pods are Ready (HSOF: add one
   * replica, wait for Ready); on by default for a GPU workload, whose pods are slow to start.
   */
  waitForReady: z.boolean().optional(),
  /** Overrides `defaults.readyTimeout` for this workload. */
  readyTimeout: durationSchema.optional(),
  /**
   * An alert that says the pods still have work (HSOF: `hsof_active_jobs > 0`): while it fires,
   * automatic scale-downs hold. Its `prometheus` side is rendered with the rules.
   */
  activeWork: z
    .strictObject({ alert: z.string().min(1), matchers: z.array(matcherSchema).default([]), prometheus: prometheusRuleSchema.optional() })
    .optional(),
};

export const nodeGroupTargetSchema = z.strictObject({
  ...targetCommon,
  kind: z.literal('eks-nodegroup'),
  cluster: z.string().min(1),
  nodegroup: z.string().min(1),
  gpusPerNode: z.number().int().nonnegative().default(0),
  /** A GPU pool with no work for this long shrinks to what its workloads need. */
  idleAfter: durationSchema.optional(),
  /** Time the pool's pods get to drain after a workload scales down, before nodes go. */
  drain: durationSchema.optional(),
  /** Overrides `defaults.joinTimeout` for this node group. */
  joinTimeout: durationSchema.optional(),
});

export const deploymentTargetSchema = z.strictObject({ ...workloadCommon, kind: z.literal('deployment') });

/** A Deployment owned by an HPA: `name` is the HPA's; the scaler moves its minReplicas/maxReplicas. */
export const hpaTargetSchema = z.strictObject({
  ...workloadCommon,
  kind: z.literal('hpa'),
  /** The Deployment the HPA scales, whose pods' readiness the scaler reads; the HPA's own name when not given. */
  deployment: z.string().min(1).optional(),
});

export const targetSchema = z.discriminatedUnion('kind', [
  nodeGroupTargetSchema,
  deploymentTargetSchema,
  hpaTargetSchema,
]);

export const actionSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('step'),
    by: z.number().int().refine((n) => n !== 0, 'a step of 0 changes nothing'),
  }),
  z.strictObject({ type: z.literal('multiply'), factor: z.number().positive() }),
  z.strictObject({ type: z.literal('setAtLeast'), replicas: replicasSchema }),
  z.strictObject({
    type: z.literal('proportional'),
    /** desired = ceil(current * value / targetValue), as the HPA computes it. */
    targetValue: z.number().positive(),
    /** The alert annotation (or label) carrying the observed value. */
    valueFrom: z.string().default('value'),
    /** No change while value / targetValue is within this band around 1 (the HPA's 10%). */
    tolerance: z.number().min(0).max(1).default(0.1),
  }),
]);


export const ruleSchema = z.strictObject({
  id: idSchema,
  alert: z.string().min(1),
  matchers: z.array(matcherSchema).default([]),
  target: idSchema,
  action: actionSchema,
  /** Time after any scaling of the target before this rule may act again. */
  cooldown: durationSchema.optional(),
  /** The decision matrix's priority; P2 for a scale-up rule and P3 for a scale-down rule when not given. */
  priority: z.enum(PRIORITIES).optional(),
  prometheus: prometheusRuleSchema.optional(),
  description: z.string().optional(),
});

/** A CloudWatch metric: what GetMetricData's MetricStat names. */
const metricStatSchema = z.strictObject({
  namespace: z.string().min(1),
  name: z.string().min(1),
  dimensions: z.record(z.string(), z.string()).default({}),
  stat: z.string().default('Average'),
});

const metricIdSchema = z.string().regex(/^[a-z][a-zA-Z0-9_]*$/, 'metric ids start with a lowercase letter (CloudWatch metric math)');

/**
 * A rule the tick evaluates on CloudWatch metrics, as CloudWatch alarms and KEDA's scalers
 * do: either a single metric or a metric-math expression over named metrics.
 */
export const metricRuleSchema = z
  .strictObject({
    id: idSchema,
    target: idSchema,
    metric: metricStatSchema.optional(),
    /** Metric math, e.g. `backlog / workers`, over `metrics`. */
    expression: z.string().min(1).optional(),
    metrics: z.record(metricIdSchema, metricStatSchema).optional(),
    /** Seconds per datapoint (60 or a multiple). */
    period: z.number().int().positive().multipleOf(60).default(60),
    /** Either a threshold held for `datapoints` of the last `evaluationPeriods`, with an action... */
    threshold: z
      .strictObject({
        comparison: z.enum(['>', '>=', '<', '<=']),
        value: z.number(),
        evaluationPeriods: z.number().int().positive().default(1),
        datapoints: z.number().int().positive().default(1),
      })
      .refine((t) => t.datapoints <= t.evaluationPeriods, { message: 'datapoints cannot exceed evaluationPeriods' })
      .optional(),
    action: actionSchema.optional(),
    /** ...or a target: desired = ceil(value / perReplica), KEDA's AverageValue. */
    targetPerReplica: z.number().positive().optional(),
    /** Below or at this value a target at zero stays at zero; above it, it gets at least one. */
    activation: z.number().nonnegative().default(0),
    /** A target scales to zero only after the value stayed at or below `activation` this long. */
    idleAfter: durationSchema.optional(),
    /** How a missing datapoint counts: never a reason to scale down unless `breaching` is asked for. */
    missingData: z.enum(['notBreaching', 'breaching', 'ignore']).default('notBreaching'),
    cooldown: durationSchema.optional(),
    priority: z.enum(PRIORITIES).optional(),
    /** Also report the value as this heartbeat metric (e.g. scaling_pending_training_jobs). */
    gauge: gaugeNameSchema.optional(),
    description: z.string().optional(),
  })
  .superRefine((rule, ctx) => {
    if ((rule.metric === undefined) === (rule.expression === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give either metric or expression (with metrics)' });
    }
    if (rule.expression !== undefined && (!rule.metrics || Object.keys(rule.metrics).length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['metrics'], message: 'an expression needs the metrics it names' });
    }
    if ((rule.threshold === undefined) === (rule.targetPerReplica === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give either threshold (with action) or targetPerReplica' });
    }
    if (rule.threshold !== undefined && rule.action === undefined) {
      ctx.addIssue({ code: 'custom', path: ['action'], message: 'a threshold rule needs an action' });
    }
  });

export const vetoSchema = z.strictObject({
  id: idSchema,
  alert: z.string().min(1),
  matchers: z.array(matcherSchema).default([]),
  blocks: z.enum(['up', 'down']).default('up'),
  targets: z.array(idSchema).min(1),
  prometheus: prometheusRuleSchema.optional(),
  description: z.string().optional(),
});

/** `12` replicas, or `2x` the size at the window's entry (TenSafe: "pre-scale to 2x current"). */
const windowDesiredSchema = z.union([
  replicasSchema,
  z
    .string()
    .regex(/^\d+(\.\d+)?x$/, 'expected a number of replicas or a multiple of the current size such as 2x')
    .transform((text) => ({ factor: Number(text.slice(0, -1)) })),
]);

const windowTargetSchema = z
  .strictObject({
    /** Set when the window becomes the active one (or its pre-scale lead begins), until reached. */
    desired: windowDesiredSchema.optional(),
    /** Lowest size while the window is active; alerts cannot scale below it. */
    floor: replicasSchema.optional(),
    /** Highest size while the window is active. */
    ceiling: replicasSchema.optional(),
  })
  .refine((t) => t.floor === undefined || t.ceiling === undefined || t.floor <= t.ceiling, {
    message: 'floor must not exceed ceiling',
  });

export const scheduleSchema = z.strictObject({
  id: idSchema,
  timezone: timeZoneSchema.optional(),
  days: z.array(z.enum(WEEKDAYS)).min(1).default([...WEEKDAYS]),
  start: clockSchema,
  /** An end at or before the start closes the window the next day (cross-midnight). */
  end: clockSchema,
  /** Higher wins where windows overlap. */
  priority: z.number().int().default(0),
  /** Lead time: the window's sizes apply this long before its start. */
  preScale: durationSchema.default(0),
  /** Only on these local dates (one-off events). */
  dates: z.array(dateSchema).optional(),
  /** Never on these local dates (holidays). */
  except: z.array(dateSchema).default([]),
  /**
   * After the window ends, the sizes it raised return to what they were when it began, this
   * long after its end (TenSafe: "scale down 15-30 minutes after the event").
   */
  returnAfter: durationSchema.optional(),
  targets: z.record(idSchema, windowTargetSchema),
  description: z.string().optional(),
});

export const policySchema = z
  .strictObject({
    version: z.literal(1),
    timezone: timeZoneSchema.default('UTC'),
    defaults: z
      .strictObject({
        cooldown: durationSchema.default(300),
        scaleDownDelay: durationSchema.default(900),
        drain: durationSchema.default(60),
        /** An alert not re-sent for this long is treated as resolved (a lost resolve). */
        alertTtl: durationSchema.default(4 * 3600),
        /** How often the tick has the worker compare every target with its live size (drift). */
        reconcileEvery: durationSchema.pipe(z.number().int().min(60).multipleOf(60)).default(300),
        /** Past these ages an intent is dropped with a reason: a late notice or command must not act. */
        maxAge: z
          .strictObject({
            alert: durationSchema.default(600),
            emergency: durationSchema.default(900),
            tick: durationSchema.default(300),
            coupling: durationSchema.default(600),
          })
          .prefault({}),
        /** How long a scale-up's pods get to be Ready before StepNotReady (HSOF runbook: wait for Ready up to 300 s). */
        readyTimeout: durationSchema.default(300),
        /** How long a node group's new nodes get to join (Ready, `nvidia.com/gpu` allocatable) before NodesNotJoined. */
        joinTimeout: durationSchema.default(900),
        /** The longest pause an operator may set. */
        maxPause: durationSchema.default(7 * 86_400),
        /** How long an emergency size pins an HPA (minReplicas = maxReplicas) unless the command says. */
        pinFor: durationSchema.default(3600),
        /**
         * `shadow`: decide and record everything (state, history, audit events, metrics) and call no
         * scaling API, to compare with the HPA or KEDA a team already runs before switching.
         */
        mode: z.enum(['live', 'shadow']).default('live'),
      })
      .prefault({}),
    targets: z.array(targetSchema).min(1),
    rules: z.array(ruleSchema).default([]),
    metricRules: z.array(metricRuleSchema).default([]),
    vetoes: z.array(vetoSchema).default([]),
    schedules: z.array(scheduleSchema).default([]),
  })
  .superRefine((policy, ctx) => {
    const targets = new Map(policy.targets.map((t) => [t.id, t]));
    const unique = (kind: 'targets' | 'rules' | 'metricRules' | 'vetoes' | 'schedules') => {
      const seen = new Set<string>();
      policy[kind].forEach((item, index) => {
        if (seen.has(item.id)) {
          ctx.addIssue({ code: 'custom', path: [kind, index, 'id'], message: `duplicate id "${item.id}"` });
        }
        seen.add(item.id);
      });
    };
    unique('targets');
    unique('rules');
    unique('metricRules');
    const ruleIds = new Set(policy.rules.map((r) => r.id));
    policy.metricRules.forEach((rule, index) => {
      if (ruleIds.has(rule.id)) ctx.addIssue({ code: 'custom', path: ['metricRules', index, 'id'], message: `"${rule.id}" is also the id of an alert rule` });
    });
    unique('vetoes');
    unique('schedules');

    // One name, one value: Prometheus would refuse an exposition with two series of one name.
    const gauges = new Map<string, string>();
    const claimGauge = (gauge: string | undefined, owner: string, path: (string | number)[]) => {
      if (gauge === undefined) return;
      const taken = (OWN_SERIES as readonly string[]).includes(gauge) ? 'the scaler itself' : gauges.get(gauge);
      if (taken !== undefined) ctx.addIssue({ code: 'custom', path, message: `gauge "${gauge}" is already exposed by ${taken}` });
      else gauges.set(gauge, owner);
    };
    policy.targets.forEach((target, index) => claimGauge(target.gauge, `target "${target.id}"`, ['targets', index, 'gauge']));
    policy.metricRules.forEach((rule, index) => claimGauge(rule.gauge, `metric rule "${rule.id}"`, ['metricRules', index, 'gauge']));

    policy.targets.forEach((target, index) => {
      if (target.min > target.max) {
        ctx.addIssue({ code: 'custom', path: ['targets', index, 'min'], message: `min ${target.min} exceeds max ${target.max}` });
      }
      if (target.kind !== 'eks-nodegroup' && target.pool !== undefined) {
        const pool = targets.get(target.pool);
        if (pool?.kind !== 'eks-nodegroup' || pool.gpusPerNode === 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['targets', index, 'pool'],
            message: `pool "${target.pool}" must be an eks-nodegroup target with gpusPerNode > 0`,
          });
        }
        if (target.gpusPerReplica === 0) {
          ctx.addIssue({ code: 'custom', path: ['targets', index, 'gpusPerReplica'], message: 'a workload in a GPU pool needs gpusPerReplica > 0' });
        }
        // A pool sizes itself from its workloads' recorded sizes: a shadow workload would move a
        // live pool, and a live workload's pods would wait on nodes a shadow pool never adds.
        const mode = (t: { mode?: 'live' | 'shadow' | undefined }) => t.mode ?? policy.defaults.mode;
        if (pool && mode(pool) !== mode(target)) {
          ctx.addIssue({ code: 'custom', path: ['targets', index, 'mode'], message: `a GPU pool and its workloads share one mode: "${target.id}" is ${mode(target)}, its pool "${pool.id}" ${mode(pool)}` });
        }
      }
    });

    const clusters = new Set(policy.targets.flatMap((t) => (t.kind === 'eks-nodegroup' ? [t.cluster] : [])));
    policy.targets.forEach((target, index) => {
      if (target.kind === 'eks-nodegroup' || target.cluster !== undefined || target.pool !== undefined || clusters.size === 1) return;
      ctx.addIssue({
        code: 'custom',
        path: ['targets', index, 'cluster'],
        message: `name the EKS cluster of "${target.id}": the policy names ${clusters.size === 0 ? 'no cluster' : `several (${[...clusters].join(', ')})`}`,
      });
    });

    const checkTarget = (id: string, path: (string | number)[]) => {
      if (!targets.has(id)) ctx.addIssue({ code: 'custom', path, message: `unknown target "${id}"` });
    };
    policy.rules.forEach((rule, index) => checkTarget(rule.target, ['rules', index, 'target']));
    policy.metricRules.forEach((rule, index) => checkTarget(rule.target, ['metricRules', index, 'target']));
    policy.vetoes.forEach((veto, index) =>
      veto.targets.forEach((id, t) => checkTarget(id, ['vetoes', index, 'targets', t])),
    );
    policy.schedules.forEach((schedule, index) => {
      for (const [id, sizes] of Object.entries(schedule.targets)) {
        const path = ['schedules', index, 'targets', id];
        const target = targets.get(id);
        if (!target) {
          checkTarget(id, path);
          continue;
        }
        for (const key of ['desired', 'floor', 'ceiling'] as const) {
          const value = sizes[key];
          if (typeof value === 'object') continue;
          if (value !== undefined && (value < target.min || value > target.max)) {
            ctx.addIssue({
              code: 'custom',
              path: [...path, key],
              message: `${key} ${value} is outside the hard bounds ${target.min}-${target.max} of "${id}"`,
            });
          }
        }
      }
    });

    // Where windows of one priority overlap on a target, the one in force would be whichever the
    // file lists first. Windows in different zones drift against each other with DST, so only
    // windows of one zone are compared.
    policy.schedules.forEach((later, index) => {
      for (const earlier of policy.schedules.slice(0, index)) {
        if (earlier.priority !== later.priority || (earlier.timezone ?? policy.timezone) !== (later.timezone ?? policy.timezone)) continue;
        const shared = Object.keys(later.targets).filter((id) => Object.hasOwn(earlier.targets, id));
        const moment = shared.length > 0 ? sharedMoment(earlier, later) : undefined;
        if (moment === undefined) continue;
        ctx.addIssue({
          code: 'custom',
          path: ['schedules', index],
          message: `window "${later.id}" overlaps window "${earlier.id}" at the same priority ${later.priority} for ${shared.join(', ')} (both apply at ${moment}): give one a higher priority or move it`,
        });
      }
    });
  });

export type PolicyInput = z.input<typeof policySchema>;
export type Policy = z.infer<typeof policySchema>;
export type Target = z.infer<typeof targetSchema>;
export type NodeGroupTarget = z.infer<typeof nodeGroupTargetSchema>;
export type WorkloadTarget = Exclude<Target, NodeGroupTarget>;
export type Rule = z.infer<typeof ruleSchema>;
export type Veto = z.infer<typeof vetoSchema>;
export type MetricRule = z.infer<typeof metricRuleSchema>;
export type MetricStat = z.infer<typeof metricStatSchema>;
export type Action = z.infer<typeof actionSchema>;
export type Schedule = z.infer<typeof scheduleSchema>;

/** One problem in a policy, with the path of the field at fault. */
export interface PolicyIssue {
  path: string;
  /** Where to point in the document: the field's keys, or a misspelt key's own. */
  at: PropertyKey[];
  message: string;
}

export type PolicyResult = { ok: true; policy: Policy } | { ok: false; issues: PolicyIssue[] };

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), '') || '(root)';

/** Validates a parsed policy document; never throws. */
export const validatePolicy = (document: unknown): PolicyResult => {
  const result = policySchema.safeParse(document);
  if (result.success) return { ok: true, policy: result.data };
  return {
    ok: false,
    issues: result.error.issues.map((issue) => ({
      path: formatPath(issue.path),
      at: issue.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : issue.path,
      message: issue.message,
    })),
  };
};
