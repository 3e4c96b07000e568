import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { routeAlert } from '../../shared/domain/matching.ts';
import { type PolicyInput, policySchema } from '../../shared/domain/policy.ts';
import { deploymentOf, isWorkload } from '../../shared/domain/policyLookups.ts';
import { loadPolicyFile } from '../../shared/policyFile.ts';
import { EXAMPLE_RECEIVER, RECEIVER, renderAlertmanagerConfig } from '../../shared/render/alertmanagerConfig.ts';
import { KUBERNETES_USER, renderKubernetesRbac } from '../../shared/render/kubernetesRbac.ts';
import { type PrometheusRule, renderPrometheusRules, SELF_ALERTS, TARGET_LABEL } from '../../shared/render/prometheusRules.ts';
import { EXAMPLE_STATUS, renderPrometheusScrapeConfig } from '../../shared/render/prometheusScrape.ts';

const shipped = loadPolicyFile('policy.yaml');
const receiver = { source: 'policy.yaml', ...EXAMPLE_RECEIVER };

interface RuleFile {
  groups: { name: string; rules: PrometheusRule[] }[];
}

interface AlertmanagerFile {
  route: {
    receiver: string;
    routes: { receiver: string; matchers: string[]; group_by: string[]; group_wait: string; group_interval: string; repeat_interval: string; continue: boolean }[];
  };
  receivers: { name: string; webhook_configs?: Record<string, unknown>[] }[];
}

const rulesOf = (text: string): PrometheusRule[] => (parse(text) as RuleFile).groups.flatMap((g) => g.rules);
const shippedRules = rulesOf(renderPrometheusRules(shipped, { source: 'policy.yaml' }));
const renderedRule = (alert: string): PrometheusRule | undefined => shippedRules.find((r) => r.alert === alert);
const scalerRoute = (text: string) => (parse(text) as AlertmanagerFile).route.routes[0];

const WEB = { id: 'web', kind: 'deployment', cluster: 'shop-prod', namespace: 'shop', name: 'web', min: 1, max: 5 } as const;
const policyWith = (input: Omit<PolicyInput, 'version' | 'targets'>) => policySchema.parse({ version: 1, targets: [WEB], ...input });

describe('Function: renderPrometheusRules', () => {
  it.each([
    {
      seed: 'worker-llm queue > 50 for 2m',
      alert: 'LLMQueueBuildup',
      expected: { expr: 'llm_queue_length > 50', for: '2m', labels: { service: 'worker-llm', [TARGET_LABEL]: 'worker-llm' } },
    },
    {
      seed: 'app CPU > 70% for 3m',
      alert: 'AppHighCPU',
      expected: { expr: 'avg(rate(container_cpu_usage_seconds_total{container="app"}[5m])) > 0.70', for: '3m', labels: { service: 'app', [TARGET_LABEL]: 'app' } },
    },
    {
      seed: 'VRAM headroom < 20% for 5m vetoes both GPU workers',
      alert: 'VRAMHeadroomLow',
      expected: { expr: '(nvidia_gpu_memory_free_bytes / nvidia_gpu_memory_total_bytes) < 0.20', for: '5m', labels: { [TARGET_LABEL]: 'worker-llm,worker-rl' } },
    },
    {
      seed: 'pending GPU pods add a node; the label comes from prometheus.labels',
      alert: 'GPUPodsPending',
      expected: { for: '2m', labels: { nodegroup: 'gpu-workers', [TARGET_LABEL]: 'gpu-pool' } },
    },
    {
      seed: 'GPU pool idle: above the pool minimum with no pending job, longer than idleAfter (1h) and slack',
      alert: SELF_ALERTS.gpuPoolIdle,
      expected: { expr: '(scaling_gpu_nodes{pool="gpu-pool"} > 1 or scaling_gpu_nodes{pool="hsof-gpu-nodes"} > 2) and on() sum(scaling_pending_training_jobs) == 0', for: '70m', labels: { severity: 'warning' } },
    },
    {
      seed: 'evaluations stalled: no tick for ten minutes',
      alert: SELF_ALERTS.evaluationsStalled,
      expected: { expr: 'sum(increase(scaling_evaluations_total[10m])) == 0', for: '5m', labels: { severity: 'warning' } },
    },
  ])('renders $alert ($seed)', ({ alert, expected }) => {
    // Act
    const rule = renderedRule(alert);

    // Assess
    expect(rule).toMatchObject(expected);
  });

  it.each([
    { alert: 'AppHighCPU', summary: 'AppHighCPU: scale app +1 (rule app-high-cpu, cooldown 5m)' },
    { alert: 'LLMQueueIdle', summary: 'LLMQueueIdle: scale worker-llm -1 (rule llm-queue-idle, cooldown 10m)' },
    { alert: 'APILatencyCritical', summary: 'APILatencyCritical: scale api x2 (rule api-latency-emergency, cooldown 1m)' },
    { alert: 'VRAMHeadroomLow', summary: 'VRAMHeadroomLow: blocks scale-up of worker-llm, worker-rl while firing (veto vram-headroom-low)' },
  ])('says in the summary of $alert what the scaler will do', ({ alert, summary }) => {
    // Act
    const rule = renderedRule(alert);

    // Assess
    expect(rule?.annotations.summary).toBe(summary);
  });

  it.each([...shipped.rules.map((r) => ({ id: r.id, alert: r.alert, targets: [r.target] })), ...shipped.vetoes.map((v) => ({ id: v.id, alert: v.alert, targets: v.targets }))])(
    'gives $alert the labels that route it to $targets ($id)',
    ({ id, alert, targets }) => {
      // Prepare
      const rule = renderedRule(alert);

      // Act
      const routes = routeAlert(shipped, { ...rule?.labels, alertname: alert });

      // Assess
      for (const target of targets) expect(routes.get(target)).toContain(id);
    },
  );

  it('groups by target, then vetoes, then the scaler\'s own alerts, which carry no target', () => {
    // Prepare
    const alerting = shipped.targets.filter((t) => shipped.rules.some((r) => r.target === t.id)).map((t) => `gpu-autoscaler.${t.id}`);

    // Act
    const file = parse(renderPrometheusRules(shipped, { source: 'policy.yaml' })) as RuleFile;

    // Assess
    expect(file.groups.map((g) => g.name)).toEqual([...alerting, 'gpu-autoscaler.vetoes', 'gpu-autoscaler.self']);
    expect(file.groups.at(-1)?.rules.map((r) => r.labels[TARGET_LABEL])).toEqual([undefined, undefined]);
    // The workloads' active-work alerts (HSOF's HSOFActiveJobs) go with their target's rules.
    const activeWork = shipped.targets.filter((t) => isWorkload(t) && t.activeWork?.prometheus).length;
    expect(activeWork).toBe(1);
    expect(file.groups.flatMap((g) => g.rules)).toHaveLength(shipped.rules.length + shipped.vetoes.length + activeWork + 2);
  });

  it.each([
    {
      case: 'a regex matcher cannot become a label',
      rule: { matchers: ['pod=~web-.*'], prometheus: { expr: 'up == 0' } },
      labels: { [TARGET_LABEL]: 'web' },
      note: '# note: matcher pod=~web-.* is not implied by these labels: the series of expr must carry a label that satisfies it',
    },
    {
      case: 'prometheus.labels contradict an equality matcher',
      rule: { matchers: ['tier=front'], prometheus: { expr: 'up == 0', labels: { tier: 'back' } } },
      labels: { tier: 'front', [TARGET_LABEL]: 'web' },
      note: '# note: prometheus.labels.tier "back" contradicts matcher tier=front; rendered the matcher\'s value',
    },
    {
      case: 'a label that YAML 1.1 would read as a boolean',
      rule: { matchers: ['canary=on'], prometheus: { expr: 'up == 0' } },
      labels: { canary: 'on', [TARGET_LABEL]: 'web' },
      note: 'canary: "on"',
    },
  ])('renders what it can and says why when $case', ({ rule, labels, note }) => {
    // Prepare
    const policy = policyWith({ rules: [{ id: 'web-down', alert: 'WebDown', target: 'web', action: { type: 'step', by: 1 }, ...rule }] });

    // Act
    const text = renderPrometheusRules(policy, { source: 'test.yaml' });

    // Assess
    expect(text).toContain(note);
    expect((parse(text, { version: '1.1' }) as RuleFile).groups[0]?.rules[0]).toMatchObject({ alert: 'WebDown', labels });
  });

  it('puts the observed value in the annotation a proportional rule reads', () => {
    // Prepare
    const policy = policyWith({
      rules: [{ id: 'web-queue', alert: 'WebQueue', target: 'web', action: { type: 'proportional', targetValue: 10, valueFrom: 'queue_depth' }, prometheus: { expr: 'web_queue_depth > 10' } }],
    });

    // Act
    const [rule] = rulesOf(renderPrometheusRules(policy, { source: 'test.yaml' }));

    // Assess
    expect(rule?.annotations).toEqual({ summary: 'WebQueue: scale web to ceil(current x queue_depth / 10) (rule web-queue, cooldown 5m)', queue_depth: '{{ $value }}' });
  });

  it('lists the rules it cannot render because they have no prometheus block', () => {
    // Prepare
    const policy = policyWith({ rules: [{ id: 'web-busy', alert: 'WebBusy', target: 'web', action: { type: 'step', by: 1 } }] });

    // Act
    const text = renderPrometheusRules(policy, { source: 'test.yaml' });

    // Assess
    expect(text).toContain('# Not rendered (no prometheus block; define these alerts yourself): web-busy.');
    expect(rulesOf(text).map((r) => r.alert)).toEqual([SELF_ALERTS.evaluationsStalled]);
  });
});

describe('Function: renderAlertmanagerConfig', () => {
  it('routes exactly the policy\'s alert names to the webhook, with bearer credentials from a file and resolves', () => {
    // Act
    const file = parse(renderAlertmanagerConfig(shipped, receiver)) as AlertmanagerFile;
    const route = file.route.routes[0];
    const pattern = /^alertname=~"(.*)"$/.exec(route?.matchers[0] ?? '')?.[1] ?? '';
    const selects = (name: string) => new RegExp(`^(?:${pattern})$`).test(name);

    // Assess
    expect(route).toMatchObject({ receiver: RECEIVER, group_by: ['alertname', TARGET_LABEL], continue: true });
    expect([...shipped.rules, ...shipped.vetoes].every((item) => selects(item.alert))).toBe(true);
    expect([SELF_ALERTS.gpuPoolIdle, SELF_ALERTS.evaluationsStalled, 'LLMQueueBuildupX', 'Watchdog'].some(selects)).toBe(false);
    expect(file.receivers.find((r) => r.name === RECEIVER)?.webhook_configs).toEqual([
      {
        url: EXAMPLE_RECEIVER.webhookUrl,
        send_resolved: true,
        max_alerts: 0,
        http_config: { authorization: { type: 'Bearer', credentials_file: EXAMPLE_RECEIVER.credentialsFile } },
      },
    ]);
  });

  it.each([
    { case: 'the shipped policy: shortest cooldown 1m, alertTtl 4h', policy: shipped, expected: ['10s', '30s', '1h'] },
    { case: 'cooldowns of 20m: group_interval stops at 5m', policy: policyWith({ defaults: { cooldown: '20m' }, rules: [{ id: 'a', alert: 'A', target: 'web', action: { type: 'step', by: 1 } }] }), expected: ['10s', '5m', '1h'] },
    { case: 'a 30s cooldown: resolves within 15s', policy: policyWith({ rules: [{ id: 'a', alert: 'A', target: 'web', action: { type: 'step', by: 1 }, cooldown: '30s' }] }), expected: ['10s', '15s', '1h'] },
    { case: 'a 5s cooldown: group_interval no shorter than 10s', policy: policyWith({ rules: [{ id: 'a', alert: 'A', target: 'web', action: { type: 'step', by: 1 }, cooldown: '5s' }] }), expected: ['10s', '10s', '1h'] },
    { case: 'alertTtl 20m: a repeat every 5m', policy: policyWith({ defaults: { alertTtl: '20m' }, rules: [{ id: 'a', alert: 'A', target: 'web', action: { type: 'step', by: 1 } }] }), expected: ['10s', '2m30s', '5m'] },
    { case: 'no rules: the default cooldown (5m)', policy: policyWith({}), expected: ['10s', '2m30s', '1h'] },
  ])('fits the intervals to the cooldowns: $case', ({ policy, expected }) => {
    // Act
    const route = scalerRoute(renderAlertmanagerConfig(policy, receiver));

    // Assess
    expect([route?.group_wait, route?.group_interval, route?.repeat_interval]).toEqual(expected);
  });

  it('says in the rendered file why each interval is what it is', () => {
    // Act
    const text = renderAlertmanagerConfig(shipped, receiver);

    // Assess
    expect(text).toContain('# Half the shortest cooldown (1m, rule api-high-latency), kept within 10s-5m');
    expect(text).toContain('# alertTtl (4h); a quarter of that survives three lost repeats.');
    expect(text).toContain('# Repeats do not drive scaling');
  });
});

interface RbacObject {
  kind: 'Role' | 'RoleBinding' | 'ClusterRole' | 'ClusterRoleBinding';
  metadata: { name: string; namespace?: string };
  rules?: { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }[];
  subjects?: { kind: string; name: string }[];
  roleRef?: { kind: string; name: string };
}

const rbacObjects = (text: string): RbacObject[] => parseAllDocuments(text).map((doc) => doc.toJS() as RbacObject);
/** Each Role's rules, one line each: `verbs resource [names]`. */
const grants = (text: string): Record<string, string[]> =>
  Object.fromEntries(
    rbacObjects(text)
      .filter((o) => o.kind === 'Role')
      .map((role) => [role.metadata.namespace, (role.rules ?? []).map((r) => `${r.verbs.join(',')} ${r.resources.join(',')}${r.resourceNames ? ` [${r.resourceNames.join(', ')}]` : ''}`)]),
  );

describe('Function: renderKubernetesRbac', () => {
  it('gives the shipped policy one Role per namespace naming exactly its Deployments and HPAs', () => {
    // Act
    const files = renderKubernetesRbac(shipped, { source: 'policy.yaml' });

    // Assess
    expect(files.map((f) => [f.cluster, f.fileName])).toEqual([
      ['tensafe-prod', 'rbac.tensafe-prod.yaml'],
      ['hsof-cluster', 'rbac.hsof-cluster.yaml'],
    ]);
    // Every namespace: the readiness of its Deployments and the disruption budgets
    const health = (names: string) => [`get deployments/status [${names}]`, 'list poddisruptionbudgets'];
    expect(grants(files[0]?.text ?? '')).toEqual({
      ml: [...health('app, worker-llm, worker-rl'), 'get,patch deployments/scale [app, worker-llm, worker-rl]', 'list horizontalpodautoscalers'],
      tensafe: [...health('tensafe-server, tensafe-training-worker'), 'get,patch deployments/scale [tensafe-server, tensafe-training-worker]', 'list horizontalpodautoscalers'],
      'medical-kg': [
        ...health('docling-vlm-service, embedding-service, gpu-management-service, reranking-service'),
        'get,patch deployments/scale [docling-vlm-service, embedding-service, gpu-management-service, reranking-service]',
        'list horizontalpodautoscalers',
      ],
    });
    expect(grants(files[1]?.text ?? '')).toEqual({ hsof: [...health('hsof-main'), 'get,patch horizontalpodautoscalers [hsof-main]'] });
  });

  it('binds each Role to the scaler user alone, in its own namespace', () => {
    // Act
    const objects = renderKubernetesRbac(shipped, { source: 'policy.yaml' }).flatMap((f) => rbacObjects(f.text));

    // Assess
    // Nodes belong to no namespace: listing a GPU pool's nodes takes a ClusterRole, in the cluster with GPU pools only
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`)).toEqual([
      ...['ml', 'tensafe', 'medical-kg'].flatMap((ns) => [`Role/${ns}/${KUBERNETES_USER}`, `RoleBinding/${ns}/${KUBERNETES_USER}`]),
      `ClusterRole//${KUBERNETES_USER}`,
      `ClusterRoleBinding//${KUBERNETES_USER}`,
      `Role/hsof/${KUBERNETES_USER}`,
      `RoleBinding/hsof/${KUBERNETES_USER}`,
    ]);
    expect(objects.find((o) => o.kind === 'ClusterRole')?.rules).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['list'] }]);
    expect(objects.find((o) => o.kind === 'ClusterRoleBinding')).toMatchObject({ subjects: [{ kind: 'User', name: KUBERNETES_USER }], roleRef: { kind: 'ClusterRole', name: KUBERNETES_USER } });
    for (const binding of objects.filter((o) => o.kind === 'RoleBinding')) {
      expect(binding).toMatchObject({ subjects: [{ kind: 'User', name: KUBERNETES_USER }], roleRef: { kind: 'Role', name: KUBERNETES_USER } });
    }
  });

  it('names every workload of the policy in its namespace, and writes no rule that changes an object it does not name', () => {
    // Act
    const roles = renderKubernetesRbac(shipped, { source: 'policy.yaml' })
      .flatMap((f) => rbacObjects(f.text))
      .filter((o) => o.kind === 'Role');
    const named = roles.flatMap((role) => (role.rules ?? []).flatMap((r) => (r.resourceNames ?? []).map((name) => `${role.metadata.namespace}/${r.resources[0]}/${name}`)));

    // Assess
    expect(named.sort()).toEqual(
      shipped.targets
        .filter(isWorkload)
        .flatMap((t) => [`${t.namespace}/${t.kind === 'hpa' ? 'horizontalpodautoscalers' : 'deployments/scale'}/${t.name}`, `${t.namespace}/deployments/status/${deploymentOf(t)}`])
        .sort(),
    );
    expect(roles.flatMap((role) => role.rules ?? []).filter((r) => r.resourceNames === undefined && r.verbs.some((v) => v !== 'list'))).toEqual([]);
  });

  it('writes one file per cluster when the policy has several, each with its own namespaces', () => {
    // Prepare: the same namespace in two clusters, with different Deployments
    const policy = policyWith({});
    const twoClusters = policySchema.parse({
      version: 1,
      targets: [WEB, { ...WEB, id: 'web-eu', cluster: 'shop-eu', name: 'web-eu' }, { ...WEB, id: 'cart', kind: 'hpa', namespace: 'cart', name: 'cart-hpa' }],
    });

    // Act
    const files = renderKubernetesRbac(twoClusters, { source: 'test.yaml' });

    // Assess
    expect(renderKubernetesRbac(policy, { source: 'test.yaml' }).map((f) => f.fileName)).toEqual(['rbac.yaml']);
    expect(files.map((f) => ({ file: f.fileName, grants: grants(f.text) }))).toEqual([
      {
        file: 'rbac.shop-prod.yaml',
        grants: {
          shop: ['get deployments/status [web]', 'list poddisruptionbudgets', 'get,patch deployments/scale [web]', 'list horizontalpodautoscalers'],
          cart: ['get deployments/status [cart-hpa]', 'list poddisruptionbudgets', 'get,patch horizontalpodautoscalers [cart-hpa]'],
        },
      },
      { file: 'rbac.shop-eu.yaml', grants: { shop: ['get deployments/status [web-eu]', 'list poddisruptionbudgets', 'get,patch deployments/scale [web-eu]', 'list horizontalpodautoscalers'] } },
    ]);
    expect(files[1]?.text).toContain('in cluster shop-eu, rendered from test.yaml');
  });
});

describe('Function: renderPrometheusScrapeConfig', () => {
  it.each([
    // status URL -> where Prometheus scrapes
    { url: 'https://abc123.lambda-url.us-east-1.on.aws/', scheme: 'https', target: 'abc123.lambda-url.us-east-1.on.aws', path: '/metrics' },
    { url: 'http://127.0.0.1:8080', scheme: 'http', target: '127.0.0.1:8080', path: '/metrics' },
    { url: 'https://internal.example.com/scaler/', scheme: 'https', target: 'internal.example.com', path: '/scaler/metrics' },
  ])('scrapes $url at $scheme://$target$path with the read-only token', ({ url, scheme, target, path }) => {
    // Act
    const config = parse(renderPrometheusScrapeConfig({ source: 'policy.yaml', statusUrl: url, credentialsFile: '/run/secrets/status' })) as {
      scrape_configs: Record<string, unknown>[];
    };

    // Assess
    expect(config.scrape_configs).toEqual([
      {
        job_name: 'gpu-autoscaler',
        scheme,
        metrics_path: path,
        scrape_interval: '1m',
        scrape_timeout: '10s',
        authorization: { type: 'Bearer', credentials_file: '/run/secrets/status' },
        static_configs: [{ targets: [target] }],
      },
    ]);
  });

  it('reads one alert per pool above its own minimum', () => {
    // Prepare: a second pool with a minimum of its own
    const policy = policySchema.parse({
      version: 1,
      targets: [
        { id: 'pool-a', kind: 'eks-nodegroup', cluster: 'a', nodegroup: 'gpu-a', min: 1, max: 4, gpusPerNode: 4, idleAfter: '30m' },
        { id: 'pool-b', kind: 'eks-nodegroup', cluster: 'b', nodegroup: 'gpu-b', min: 2, max: 6, gpusPerNode: 8 },
      ],
    } satisfies PolicyInput);

    // Act
    const rule = rulesOf(renderPrometheusRules(policy, { source: 'test.yaml' })).find((r) => r.alert === SELF_ALERTS.gpuPoolIdle);

    // Assess: no metric rule reads pending jobs, so nodes above the minimum are the condition; the longest idleAfter holds
    expect(rule).toMatchObject({ expr: 'scaling_gpu_nodes{pool="pool-a"} > 1 or scaling_gpu_nodes{pool="pool-b"} > 2', for: '70m' });
  });
});

describe('Command: npm run render', () => {
  it.each([
    ...renderKubernetesRbac(shipped, { source: 'policy.yaml' }).map((f) => ({ file: `infra/k8s/${f.fileName}`, render: () => f.text })),
    { file: 'infra/prometheus/gpu-autoscaler.rules.yml', render: () => renderPrometheusRules(shipped, { source: 'policy.yaml' }) },
    { file: 'infra/alertmanager/gpu-autoscaler.yml', render: () => renderAlertmanagerConfig(shipped, receiver) },
    { file: 'infra/prometheus/gpu-autoscaler.scrape.yml', render: () => renderPrometheusScrapeConfig({ source: 'policy.yaml', ...EXAMPLE_STATUS }) },
  ])('committed $file is what rendering the shipped policy writes', ({ file, render }) => {
    // Act
    const committed = readFileSync(file, 'utf8');

    // Assess
    expect(committed, `${file} is stale: run npm run render`).toBe(render());
  });
});
