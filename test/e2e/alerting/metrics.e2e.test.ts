import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { LocalAutoscaler } from '../../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../../shared/adapters/local/memoryStateStore.ts';
import { loadPolicyFile } from '../../../shared/policyFile.ts';
import { renderPrometheusRules, SELF_ALERTS } from '../../../shared/render/prometheusRules.ts';
import { renderPrometheusScrapeConfig, type ScrapeRenderOptions } from '../../../shared/render/prometheusScrape.ts';
import { ManualClock } from '../../support/clock.ts';
import { checkMetrics, checkPrometheusConfig, type RunningPrometheus, type ScrapeJob, startPrometheus, waitUntil } from './setup/alertingStack.ts';
import { type LambdaWebhookServer, serveLambdaWebhook } from './setup/lambdaWebhookServer.ts';

const policy = loadPolicyFile('policy.yaml');
const STATUS_TOKEN = 'e2e-status-token';
const WEBHOOK_TOKEN = 'e2e-webhook-token';
// Tuesday 03:00 in New York: off-peak, nothing scheduled moves the GPU pool.
const OFF_PEAK = '2026-11-24T03:00:00-05:00';
const PENDING_JOBS = { namespace: 'AWS/SQS', name: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: 'tensafe-training-jobs' } };

/** The runbook's series (scaling controller, "Key Metrics") and the type each must have. */
const RUNBOOK_SERIES = {
  scaling_oms_replicas: 'gauge',
  scaling_replicas: 'gauge',
  scaling_gpu_nodes: 'gauge',
  scaling_pending_training_jobs: 'gauge',
  scaling_evaluation_duration_seconds: 'histogram',
  scaling_evaluations_total: 'counter',
};

/** The rendered scrape job, pointed at a loopback URL and scraping every second instead of every minute. */
const scrapeJob = (name: string, options: Omit<ScrapeRenderOptions, 'source'>): ScrapeJob => {
  const [job] = (parse(renderPrometheusScrapeConfig({ source: 'policy.yaml', ...options })) as { scrape_configs: ScrapeJob[] }).scrape_configs;
  if (!job) throw new Error('the rendered scrape config has no job');
  return { ...job, job_name: name, scrape_interval: '1s', scrape_timeout: '1s' };
};

/**
 * The shipped self-alerts with their windows cut to seconds: the expressions are the rendered
 * ones, the ten-minute stall window and the seventy-minute hold are not what a test can wait for.
 */
const quickSelfAlerts = (): string => {
  const doc = parseDocument(renderPrometheusRules(policy, { source: 'policy.yaml' }));
  const groups = doc.toJS() as { groups: { name: string; rules: { alert: string; expr: string; for: string }[] }[] };
  const self = groups.groups.filter((g) => g.name === 'gpu-autoscaler.self');
  for (const rule of self.flatMap((g) => g.rules)) {
    rule.expr = rule.expr.replace(/\[10m\]/g, '[4s]');
    rule.for = '1s';
  }
  return JSON.stringify({ groups: self });
};

const exposition = async (url: string, token: string): Promise<{ status: number; type: string | null; text: string }> => {
  const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
};

let secrets = '';
let credentialsFile = '';
let clock: ManualClock;
let autoscaler: LocalAutoscaler;
let local = '';
let lambda: LambdaWebhookServer | undefined;
let prometheus: RunningPrometheus | undefined;
let ticker: NodeJS.Timeout | undefined;

const startTicking = (): void => {
  // Real time for Prometheus, the scaler's own clock held still: every tick evaluates again, nothing expires.
  ticker = setInterval(() => void autoscaler.tick(), 300);
};
const stopTicking = (): void => clearInterval(ticker);

describe('GET /metrics scraped by the real Prometheus: the runbook series and the two self-alerts', () => {
  beforeAll(async () => {
    // Prepare: the local runtime, three GPU nodes against a need of one, two training jobs waiting
    // a minute ago, and the status function through its Function URL shape on the same state
    clock = new ManualClock(OFF_PEAK);
    const store = new MemoryStateStore();
    autoscaler = new LocalAutoscaler({ policy, clock, store, token: WEBHOOK_TOKEN, statusToken: STATUS_TOKEN, initialSizes: { 'gpu-pool': 3 }, print: () => undefined });
    autoscaler.metrics.put(PENDING_JOBS, 2, new Date(clock.now().getTime() - 60_000));
    await autoscaler.tick();
    local = await autoscaler.listen(0);
    Object.assign(process.env, {
      STATE_PREFIX: '/gpu-autoscaler/e2e',
      QUEUE_URL: 'http://127.0.0.1:9/queue/e2e.fifo',
      STATUS_TOKEN_PARAMETER: '/gpu-autoscaler/e2e/status-token',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
    const status = await import('../../../functions/status/handler.ts');
    const handler = status.buildHandler({ policy, store, ticks: autoscaler.ticks, clock, token: async () => STATUS_TOKEN, health: { lastTickAt: async () => null, deadLetters: async () => 0 } });
    lambda = await serveLambdaWebhook('status', handler);

    secrets = await mkdtemp(join(tmpdir(), 'e2e-status-token-'));
    credentialsFile = join(secrets, 'status-token');
    await writeFile(credentialsFile, `${STATUS_TOKEN}\n`, { mode: 0o600 });
    startTicking();
    prometheus = await startPrometheus({
      rulesYaml: quickSelfAlerts(),
      scrapeTargets: [],
      scrapeJobs: [scrapeJob('local', { statusUrl: local, credentialsFile }), scrapeJob('lambda', { statusUrl: `${lambda.url}/`, credentialsFile })],
      alertmanagerUrls: [],
      evaluationInterval: '1s',
    });
  });

  afterAll(async () => {
    stopTicking();
    await prometheus?.stop();
    await lambda?.close();
    await autoscaler?.close();
    if (secrets !== '') await rm(secrets, { recursive: true, force: true });
  });

  it('accepts the rendered scrape job (promtool check config)', async () => {
    // Act
    // promtool opens the credentials file: it must exist
    const result = await checkPrometheusConfig(renderPrometheusScrapeConfig({ source: 'policy.yaml', statusUrl: 'https://abc123.lambda-url.us-east-1.on.aws/', credentialsFile }));

    // Assess
    expect(result.ok, result.output).toBe(true);
  });

  it.each([
    { endpoint: 'npm start', url: () => local },
    { endpoint: 'the status function URL', url: () => lambda?.url ?? '' },
  ])('serves every runbook series from $endpoint, which promtool check metrics passes, with the status token only', async ({ url }) => {
    // Act
    const answer = await exposition(url(), STATUS_TOKEN);
    const refused = await exposition(url(), WEBHOOK_TOKEN);
    const checked = await checkMetrics(answer.text);

    // Assess
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(checked.ok, checked.output).toBe(true);
    for (const [name, type] of Object.entries(RUNBOOK_SERIES)) expect(answer.text, name).toContain(`# TYPE ${name} ${type}\n`);
    expect(refused.status).toBe(401);
  });

  it('has Prometheus hold every runbook series, with its type, from both jobs', async () => {
    // Act: Prometheus's own record of what it scraped
    const metadata = await waitUntil(
      async () => {
        const response = await fetch(`${prometheus?.url}/api/v1/metadata`, { signal: AbortSignal.timeout(5_000) });
        const { data } = (await response.json()) as { data: Record<string, { type: string }[]> };
        return Object.keys(RUNBOOK_SERIES).every((name) => data[name]) ? data : undefined;
      },
      { timeoutMs: 30_000, what: 'Prometheus to know every runbook series' },
    );
    const jobs = await waitUntil(
      async () => {
        const query = encodeURIComponent('count by (job) (scaling_evaluations_total)');
        const response = await fetch(`${prometheus?.url}/api/v1/query?query=${query}`, { signal: AbortSignal.timeout(5_000) });
        const { data } = (await response.json()) as { data: { result: { metric: { job: string } }[] } };
        return data.result.length === 2 ? data.result.map((r) => r.metric.job).sort() : undefined;
      },
      { timeoutMs: 30_000, what: 'both scrape jobs to deliver scaling_evaluations_total' },
    );

    // Assess
    expect(Object.fromEntries(Object.keys(RUNBOOK_SERIES).map((name) => [name, metadata[name]?.[0]?.type]))).toEqual(RUNBOOK_SERIES);
    expect(jobs).toEqual(['lambda', 'local']);
  });

  it('fires scaling_controller_evaluations_stalled once the tick stops, not while it runs', async () => {
    // Prepare: ticking for a few windows, and Prometheus seeing the counter rise
    await waitUntil(
      async () => {
        const query = encodeURIComponent('sum(increase(scaling_evaluations_total[4s])) > 0');
        const response = await fetch(`${prometheus?.url}/api/v1/query?query=${query}`, { signal: AbortSignal.timeout(5_000) });
        const { data } = (await response.json()) as { data: { result: unknown[] } };
        return data.result.length > 0 ? true : undefined;
      },
      { timeoutMs: 30_000, what: 'Prometheus to see the evaluations counter rise' },
    );
    const whileTicking = (await prometheus?.alerts())?.filter((a) => a.labels.alertname === SELF_ALERTS.evaluationsStalled);

    // Act
    stopTicking();
    const fired = await prometheus?.waitForAlert(SELF_ALERTS.evaluationsStalled, 'firing', 30_000);

    // Assess
    expect(whileTicking).toEqual([]);
    expect(fired?.labels.severity).toBe('warning');
  });

  it('fires scaling_gpu_pool_idle for gpu-pool: three nodes, no pending training job', async () => {
    // Prepare: not while two jobs wait; then the training job queue read as empty (the local CloudWatch stand-in), a minute later the tick reads it
    const put = await fetch(`${local}/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` },
      body: JSON.stringify({ ...PENDING_JOBS, value: 0 }),
    });
    expect(put.status).toBe(200);
    const whileJobsWait = (await prometheus?.alerts())?.filter((a) => a.labels.alertname === SELF_ALERTS.gpuPoolIdle);
    clock.advance(60);

    // Act
    await autoscaler.tick();
    const fired = await prometheus?.waitForAlert(SELF_ALERTS.gpuPoolIdle, 'firing', 30_000);

    // Assess
    expect(whileJobsWait).toEqual([]);
    expect(fired?.labels.pool).toBe('gpu-pool');
    expect(Number(fired?.value)).toBe(3);
  });
});
