import { Document, isMap, isSeq } from 'yaml';
import { formatDuration } from '../domain/duration.ts';
import { matches } from '../domain/matching.ts';
import type { Action, NodeGroupTarget, Policy, Rule, Veto, WorkloadTarget } from '../domain/policy.ts';
import { cooldownOf, isWorkload } from '../domain/policyLookups.ts';

type ActiveWork = NonNullable<WorkloadTarget['activeWork']>;

/**
 * The label naming the scaler target(s) on every rendered rule. The scaler itself matches on
 * `alertname` and the policy's matchers; this one is for the Alertmanager route to group by.
 */
export const TARGET_LABEL = 'autoscaler_target';

/** The scaler's own alerts, named as in the scaling controller runbook; they scale nothing. */
export const SELF_ALERTS = {
  gpuPoolIdle: 'scaling_gpu_pool_idle',
  evaluationsStalled: 'scaling_controller_evaluations_stalled',
} as const;

const GROUP_PREFIX = 'gpu-autoscaler';

// The tick runs every minute: ten minutes without an evaluation is a stall, not a slow tick.
const STALL_WINDOW = '10m';
const STALL_FOR = '5m';
// The scaler shrinks an idle pool on the first tick after `idleAfter`, and nodes take minutes to go.
const IDLE_SLACK_SECONDS = 600;
// A pool without `idleAfter` never shrinks by itself; the runbook files an incident after an hour idle.
const DEFAULT_IDLE_AFTER_SECONDS = 3600;
/** The runbook's gauge of waiting work; a metric rule's `gauge` supplies it. */
const PENDING_JOBS = 'scaling_pending_training_jobs';

export interface RenderOptions {
  /** Where the policy came from, named in the header. */
  source: string;
}

export interface PrometheusRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface RenderedRule {
  rule: PrometheusRule;
  /** Why the rendered labels alone may not select the rule; written above it. */
  notes: string[];
}

interface RuleGroup {
  name: string;
  rules: RenderedRule[];
}

const describeAction = (action: Action): string => {
  switch (action.type) {
    case 'step':
      return action.by > 0 ? `+${action.by}` : `${action.by}`;
    case 'multiply':
      return `x${action.factor}`;
    case 'setAtLeast':
      return `to at least ${action.replicas}`;
    case 'proportional':
      return `to ceil(current x ${action.valueFrom} / ${action.targetValue})`;
  }
};

/**
 * The labels that make the scaler's matchers select the alert: every equality matcher becomes a
 * label, on top of the `prometheus.labels` the policy gives. A matcher the labels do not satisfy
 * (a regex, or a label the expression's series must carry) is reported, not guessed.
 */
const labelsFor = (item: Rule | Veto | ActiveWork, targets: string): { labels: Record<string, string>; notes: string[] } => {
  const given = item.prometheus?.labels ?? {};
  const notes: string[] = [];
  const derived: Record<string, string> = {};
  for (const matcher of item.matchers) {
    // The alert name is the rule's `alert`, never a label of its own.
    if (matcher.op !== '=' || matcher.label === 'alertname') continue;
    const stated = given[matcher.label];
    if (stated !== undefined && stated !== matcher.value) {
      notes.push(`prometheus.labels.${matcher.label} "${stated}" contradicts matcher ${matcher.text}; rendered the matcher's value`);
    }
    derived[matcher.label] = matcher.value;
  }
  const labels = { ...given, ...derived, [TARGET_LABEL]: targets };
  const unmet = item.matchers.filter((m) => !matches(m, { ...labels, alertname: item.alert }));
  for (const matcher of unmet) {
    notes.push(`matcher ${matcher.text} is not implied by these labels: the series of expr must carry a label that satisfies it`);
  }
  return { labels, notes };
};

const fromRule = (policy: Policy, rule: Rule): RenderedRule | undefined => {
  if (!rule.prometheus) return undefined;
  const { labels, notes } = labelsFor(rule, rule.target);
  const action = rule.action;
  const summary = `${rule.alert}: scale ${rule.target} ${describeAction(action)} (rule ${rule.id}, cooldown ${formatDuration(cooldownOf(policy, rule))})`;
  const annotations: Record<string, string> = {
    summary: rule.prometheus.summary ?? summary,
    ...(rule.description ? { description: rule.description } : {}),
    // A proportional rule reads the observed value from this annotation.
    ...(action.type === 'proportional' ? { [action.valueFrom]: '{{ $value }}' } : {}),
  };
  return { rule: { alert: rule.alert, expr: rule.prometheus.expr, for: rule.prometheus.for, labels, annotations }, notes };
};

const fromVeto = (veto: Veto): RenderedRule | undefined => {
  if (!veto.prometheus) return undefined;
  const { labels, notes } = labelsFor(veto, veto.targets.join(','));
  const summary = `${veto.alert}: blocks scale-${veto.blocks} of ${veto.targets.join(', ')} while firing (veto ${veto.id})`;
  const annotations: Record<string, string> = {
    summary: veto.prometheus.summary ?? summary,
    ...(veto.description ? { description: veto.description } : {}),
  };
  return { rule: { alert: veto.alert, expr: veto.prometheus.expr, for: veto.prometheus.for, labels, annotations }, notes };
};

/** A workload's active-work alert (HSOF's hsof_active_jobs), rendered with its target's rules. */
const fromActiveWork = (target: WorkloadTarget): RenderedRule | undefined => {
  const work = target.activeWork;
  if (!work?.prometheus) return undefined;
  const { labels, notes } = labelsFor(work, target.id);
  const annotations = { summary: work.prometheus.summary ?? `${work.alert}: ${target.id} has active work; its scale-downs hold while firing` };
  return { rule: { alert: work.alert, expr: work.prometheus.expr, for: work.prometheus.for, labels, annotations }, notes };
};

const gpuPools = (policy: Policy): NodeGroupTarget[] =>
  policy.targets.filter((t): t is NodeGroupTarget => t.kind === 'eks-nodegroup' && t.gpusPerNode > 0);

/**
 * `scaling_gpu_pool_idle`, one alert per pool (its `pool` label): GPU nodes above the pool's
 * minimum with no training job waiting, for longer than the scaler should take to shrink them.
 * Without a metric rule that reads the pending jobs, nodes above the minimum are enough.
 */
const gpuPoolIdleRule = (policy: Policy, pools: readonly NodeGroupTarget[]): RenderedRule => {
  const idleAfter = Math.max(...pools.map((pool) => pool.idleAfter ?? DEFAULT_IDLE_AFTER_SECONDS));
  const holdFor = formatDuration(idleAfter + IDLE_SLACK_SECONDS);
  const aboveMin = pools.map((pool) => `scaling_gpu_nodes{pool="${pool.id}"} > ${pool.min}`).join(' or ');
  const pending = policy.metricRules.some((rule) => rule.gauge === PENDING_JOBS);
  return {
    rule: {
      alert: SELF_ALERTS.gpuPoolIdle,
      expr: pending ? `(${aboveMin}) and on() sum(${PENDING_JOBS}) == 0` : aboveMin,
      for: holdFor,
      labels: { severity: 'warning' },
      annotations: {
        summary: `GPU pool {{ $labels.pool }} has {{ $value }} nodes, above its minimum${pending ? ', with no pending training job' : ''}, for ${holdFor}`,
        description:
          'The scaler should have shrunk the pool after idleAfter. Compare scaling_gpu_nodes with the node group, ' +
          'then run the emergency deprovisionPool command if it is still up.',
      },
    },
    notes: [],
  };
};

/** `scaling_controller_evaluations_stalled`: the minute tick has stopped evaluating. */
const evaluationsStalledRule = (): RenderedRule => ({
  rule: {
    alert: SELF_ALERTS.evaluationsStalled,
    expr: `sum(increase(scaling_evaluations_total[${STALL_WINDOW}])) == 0`,
    for: STALL_FOR,
    labels: { severity: 'warning' },
    annotations: {
      summary: `No scaling evaluation for ${STALL_WINDOW}: schedules, alert expiry and GPU idleness are not re-evaluated`,
      description: 'Check the schedule-tick function: its EventBridge schedule, errors and throttles in its logs.',
    },
  },
  notes: [],
});

const ruleGroups = (policy: Policy): RuleGroup[] => {
  const byTarget = policy.targets.map((target) => ({
    name: `${GROUP_PREFIX}.${target.id}`,
    rules: [
      ...policy.rules.filter((r) => r.target === target.id).flatMap((r) => fromRule(policy, r) ?? []),
      ...(isWorkload(target) ? [fromActiveWork(target)].filter((r) => r !== undefined) : []),
    ],
  }));
  const vetoes = { name: `${GROUP_PREFIX}.vetoes`, rules: policy.vetoes.flatMap((v) => fromVeto(v) ?? []) };
  const pools = gpuPools(policy);
  const self = { name: `${GROUP_PREFIX}.self`, rules: [...(pools.length > 0 ? [gpuPoolIdleRule(policy, pools)] : []), evaluationsStalledRule()] };
  return [...byTarget, vetoes, self].filter((group) => group.rules.length > 0);
};

const header = (policy: Policy, options: RenderOptions): string => {
  const missing = [...policy.rules, ...policy.vetoes].filter((item) => !item.prometheus).map((item) => item.id);
  return [
    ` Prometheus alerting rules for gpu-autoscaler, rendered from ${options.source} by \`npm run render\`.`,
    ' Do not edit: change the policy and render again, so that each threshold lives in one place.',
    ` Every rule carries the labels its policy matchers select on, and ${TARGET_LABEL}, which the`,
    ' Alertmanager route groups by. The last group holds the scaler\'s own alerts; they scale nothing.',
    ' Check with `promtool check rules <this file>`.',
    ...(missing.length > 0 ? [` Not rendered (no prometheus block; define these alerts yourself): ${missing.join(', ')}.`] : []),
  ].join('\n');
};

/** The Prometheus rule file for a policy: one group per target, then the vetoes, then the scaler's own alerts. */
export const renderPrometheusRules = (policy: Policy, options: RenderOptions): string => {
  const groups = ruleGroups(policy);
  // Prometheus reads YAML 1.1, where a bare `yes` or `on` is a boolean: 1.1 quotes such label values.
  const doc = new Document({ groups: groups.map((g) => ({ name: g.name, rules: g.rules.map((r) => r.rule) })) }, { version: '1.1' });
  doc.commentBefore = header(policy, options);
  const groupNodes = doc.get('groups');
  if (isSeq(groupNodes)) {
    groups.forEach((group, g) => {
      const groupNode = groupNodes.items[g];
      const ruleNodes = isMap(groupNode) ? groupNode.get('rules') : undefined;
      if (!isSeq(ruleNodes)) return;
      group.rules.forEach((rendered, r) => {
        const node = ruleNodes.items[r];
        if (rendered.notes.length > 0 && isMap(node)) node.commentBefore = rendered.notes.map((n) => ` note: ${n}`).join('\n');
      });
    });
  }
  return doc.toString({ lineWidth: 0 });
};
