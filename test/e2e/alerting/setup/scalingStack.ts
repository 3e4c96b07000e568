import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { LocalAutoscaler } from '../../../../shared/adapters/local/localAutoscaler.ts';
import { MemoryStateStore } from '../../../../shared/adapters/local/memoryStateStore.ts';
import type { Decision } from '../../../../shared/domain/decision.ts';
import type { Policy } from '../../../../shared/domain/policy.ts';
import { renderAlertmanagerConfig } from '../../../../shared/render/alertmanagerConfig.ts';
import { renderPrometheusRules } from '../../../../shared/render/prometheusRules.ts';
import { ManualClock } from '../../../support/clock.ts';
import { startAlertmanager, startPrometheus, waitUntil } from './alertingStack.ts';
import type { RunningAlertmanager, RunningPrometheus } from './alertingStack.ts';
import { startExporter } from './exporter.ts';
import type { MetricsExporter } from './exporter.ts';
import { startScalerProxy } from './scalerProxy.ts';
import type { ScalerProxy } from './scalerProxy.ts';

/** The token Alertmanager reads from its credentials file and the local scaler expects. */
export const WEBHOOK_TOKEN = 'e2e-scaler-token';

// Tuesday 03:00 in New York: the off-peak window keeps every target at its minimum, so only alerts scale.
export const OFF_PEAK = '2026-11-24T03:00:00-05:00';

/** The policy with every `for:` cut to seconds, so that real alerts fire within a test. */
export const quickPolicy = (policy: Policy, holdFor = '2s'): Policy => ({
  ...policy,
  rules: policy.rules.map((rule) => (rule.prometheus ? { ...rule, prometheus: { ...rule.prometheus, for: holdFor } } : rule)),
  vetoes: policy.vetoes.map((veto) => (veto.prometheus ? { ...veto, prometheus: { ...veto.prometheus, for: holdFor } } : veto)),
});

export interface RouteTimings {
  readonly group_wait: string;
  readonly group_interval: string;
  readonly repeat_interval: string;
}

/** The rendered Alertmanager configuration, with the scaler route's intervals shortened for a test. */
export const withTimings = (configYaml: string, timings: RouteTimings): string => {
  const doc = parseDocument(configYaml);
  for (const [key, value] of Object.entries(timings)) doc.setIn(['route', 'routes', 0, key], value);
  return doc.toString({ lineWidth: 0 });
};

/**
 * Whether every Alertmanager group whose last accepted notification was firing has since had its
 * resolve accepted. Alertmanager remembers only which fingerprints it last delivered as firing: an
 * alert that resolves and fires again before the resolve gets through looks unchanged to it, and
 * is not sent again before repeat_interval.
 */
const resolvesDelivered = (proxy: ScalerProxy): boolean => {
  const lastAccepted = new Map<string, unknown>();
  for (const request of proxy.requests) {
    if (request.answeredWith < 200 || request.answeredWith >= 300) continue;
    const notification = request.json as { externalURL?: string; groupKey?: string; status?: string } | undefined;
    lastAccepted.set(`${notification?.externalURL} ${notification?.groupKey}`, notification?.status);
  }
  return [...lastAccepted.values()].every((status) => status === 'resolved');
};

export interface ScalingStack {
  readonly exporter: MetricsExporter;
  readonly proxy: ScalerProxy;
  readonly alertmanagers: readonly RunningAlertmanager[];
  readonly prometheus: RunningPrometheus;
  /**
   * Resolves once Prometheus holds no alert and Alertmanager has delivered the resolve of every
   * group it delivered as firing, so that the next test starts from scratch.
   */
  quiet(): Promise<void>;
  /**
   * Waits until quiet, closes the last test's scaler and points the proxy at a new one: the last
   * test's alerts resolve at its own scaler, and no late copy reaches the next one.
   */
  freshScaler(policy: Policy): Promise<LocalScaler>;
  stop(): Promise<void>;
}

export interface ScalingStackOptions {
  readonly policy: Policy;
  /** More than one: standalone instances, an HA pair whose gossip is cut, each notifying. */
  readonly alertmanagers: number;
  readonly timings: RouteTimings;
}

/**
 * Real Prometheus and Alertmanager(s) loaded with what `npm run render` makes of the policy
 * (with short `for:` and intervals), scraping a loopback exporter and posting to a proxy
 * that stands in front of whichever scaler a test points it at.
 */
export const startScalingStack = async (options: ScalingStackOptions): Promise<ScalingStack> => {
  const stoppers: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    // Reverse order: Prometheus before the Alertmanagers it pushes to, those before the proxy.
    for (const stopOne of stoppers.splice(0).reverse()) await stopOne();
  };
  try {
    const secrets = await mkdtemp(join(tmpdir(), 'e2e-scaler-secrets-'));
    stoppers.push(() => rm(secrets, { recursive: true, force: true }));
    const tokenFile = join(secrets, 'webhook-token');
    await writeFile(tokenFile, `${WEBHOOK_TOKEN}\n`, { mode: 0o600 });

    const proxy = await startScalerProxy();
    stoppers.push(() => proxy.close());
    const exporter = await startExporter();
    stoppers.push(() => exporter.close());

    const rendered = renderAlertmanagerConfig(options.policy, { source: 'policy.yaml', webhookUrl: proxy.url, credentialsFile: tokenFile });
    const configYaml = withTimings(rendered, options.timings);
    const alertmanagers: RunningAlertmanager[] = [];
    for (let i = 0; i < options.alertmanagers; i += 1) {
      const am = await startAlertmanager({ configYaml });
      stoppers.push(() => am.stop());
      alertmanagers.push(am);
    }

    const prometheus = await startPrometheus({
      rulesYaml: renderPrometheusRules(quickPolicy(options.policy), { source: 'policy.yaml' }),
      scrapeTargets: [exporter.target],
      alertmanagerUrls: alertmanagers.map((am) => am.url),
      evaluationInterval: '1s',
    });
    stoppers.push(() => prometheus.stop());

    const quiet = async () => {
      await waitUntil(async () => ((await prometheus.alerts()).length === 0 && resolvesDelivered(proxy) ? true : undefined), {
        timeoutMs: 30_000,
        what: 'Prometheus to hold no alert and every group Alertmanager delivered as firing to be delivered as resolved',
      });
    };
    let current: LocalScaler | undefined;
    stoppers.unshift(async () => current?.close());
    return {
      exporter,
      proxy,
      alertmanagers,
      prometheus,
      quiet,
      freshScaler: async (policy) => {
        await quiet();
        await current?.close();
        current = await startLocalScaler(policy);
        proxy.forwardTo(current.url);
        return current;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
};

export interface LocalScaler {
  readonly autoscaler: LocalAutoscaler;
  readonly clock: ManualClock;
  readonly url: string;
  /** The decisions that changed the target's size, oldest first. */
  scaled(target: string): Decision[];
  decisions(target: string): Decision[];
  /** Names of the alerts the target's state holds as active. */
  activeAlerts(target: string): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The local runtime on loopback with the shipped cooldowns on a clock the test moves, past its
 * first tick: Prometheus and Alertmanager run on real time, the scaler's cooldowns on this clock.
 */
export const startLocalScaler = async (policy: Policy): Promise<LocalScaler> => {
  const clock = new ManualClock(OFF_PEAK);
  const store = new MemoryStateStore();
  const autoscaler = new LocalAutoscaler({ policy, clock, store, token: WEBHOOK_TOKEN, print: () => undefined });
  await autoscaler.tick();
  const url = await autoscaler.listen(0);
  const decisions = (target: string) => autoscaler.decisions.filter((d) => d.target === target);
  return {
    autoscaler,
    clock,
    url,
    decisions,
    scaled: (target) => decisions(target).filter((d) => d.verdict === 'scale'),
    activeAlerts: async (target) => ((await store.get(target))?.alerts ?? []).map((a) => a.alertname).sort(),
    close: () => autoscaler.close(),
  };
};
