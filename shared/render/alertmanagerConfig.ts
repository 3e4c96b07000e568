import { Document, isMap, isScalar } from 'yaml';
import { formatDuration } from '../domain/duration.ts';
import type { Policy } from '../domain/policy.ts';
import { cooldownOf, isWorkload } from '../domain/policyLookups.ts';
import { TARGET_LABEL } from './prometheusRules.ts';

/** The receiver's name in the rendered configuration. */
export const RECEIVER = 'gpu-autoscaler';

export interface WebhookReceiver {
  /** The webhook function's URL, or `http://127.0.0.1:8080/webhook` for local mode. */
  webhookUrl: string;
  /** The file holding the bearer token, as mounted where Alertmanager runs. */
  credentialsFile: string;
}

/** What `npm run render` writes when not told otherwise; the README says what to replace. */
export const EXAMPLE_RECEIVER: WebhookReceiver = {
  webhookUrl: 'https://gpu-autoscaler.example.com/webhook',
  credentialsFile: '/etc/alertmanager/secrets/gpu-autoscaler-token',
};

export interface RenderOptions extends WebhookReceiver {
  /** Where the policy came from, named in the header. */
  source: string;
}

const GROUP_WAIT_SECONDS = 10;
const GROUP_INTERVAL_BOUNDS = { min: 10, max: 300 } as const;
// A quarter of alertTtl leaves room for three lost repeats before a firing alert expires.
const REPEATS_PER_TTL = 4;

export interface Intervals {
  groupWait: number;
  groupInterval: number;
  repeatInterval: number;
  /** The rule whose cooldown is the shortest, to explain group_interval. */
  shortest: { cooldown: number; rule?: string };
}

/** The route's intervals, in seconds, as rendered for the policy (a replay sends alerts as they would). */
export const intervalsFor = (policy: Policy): Intervals => {
  const cooldowns = policy.rules.map((rule) => ({ cooldown: cooldownOf(policy, rule), rule: rule.id }));
  const shortest = cooldowns.reduce<Intervals['shortest']>(
    (best, next) => (next.cooldown < best.cooldown ? next : best),
    cooldowns[0] ?? { cooldown: policy.defaults.cooldown },
  );
  const half = Math.floor(shortest.cooldown / 2);
  const groupInterval = Math.min(GROUP_INTERVAL_BOUNDS.max, Math.max(GROUP_INTERVAL_BOUNDS.min, half));
  return {
    groupWait: Math.min(GROUP_WAIT_SECONDS, groupInterval),
    groupInterval,
    repeatInterval: Math.max(groupInterval, Math.floor(policy.defaults.alertTtl / REPEATS_PER_TTL)),
    shortest,
  };
};

// Alert names become one regex inside a quoted Alertmanager matcher: escape for both.
const alertNamesMatcher = (policy: Policy): string => {
  const activeWork = policy.targets.flatMap((t) => (isWorkload(t) && t.activeWork ? [t.activeWork] : []));
  const names = [...new Set([...policy.rules, ...policy.vetoes, ...activeWork].map((item) => item.alert))].sort();
  const pattern = names.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  return `alertname=~"${pattern.replace(/[\\"]/g, '\\$&')}"`;
};

const comment = (text: string): string =>
  text
    .split('\n')
    .map((line) => ` ${line}`)
    .join('\n');

/** Writes `why` above `key` in the map at `path`. */
const explain = (doc: Document, path: readonly (string | number)[], key: string, why: string): void => {
  const map = doc.getIn(path);
  if (!isMap(map)) return;
  const pair = map.items.find((item) => isScalar(item.key) && item.key.value === key);
  if (pair && isScalar(pair.key)) pair.key.commentBefore = comment(why);
};

const header = (options: RenderOptions): string =>
  comment(
    [
      `Alertmanager route and receiver for gpu-autoscaler, rendered from ${options.source} by \`npm run render\`.`,
      'Merge the route under `routes` and the gpu-autoscaler receiver into your own alertmanager.yml;',
      'the root route and its `default` receiver only stand in for yours.',
      'Check with `amtool check-config <this file>`.',
    ].join('\n'),
  );

/**
 * The Alertmanager route and receiver that deliver the policy's alerts to the scaler's webhook,
 * with intervals derived from the policy's cooldowns and alert TTL; the comments say why.
 */
export const renderAlertmanagerConfig = (policy: Policy, options: RenderOptions): string => {
  const intervals = intervalsFor(policy);
  const config = {
    route: {
      receiver: 'default',
      routes: [
        {
          receiver: RECEIVER,
          matchers: [alertNamesMatcher(policy)],
          group_by: ['alertname', TARGET_LABEL],
          group_wait: formatDuration(intervals.groupWait),
          group_interval: formatDuration(intervals.groupInterval),
          repeat_interval: formatDuration(intervals.repeatInterval),
          continue: true,
        },
      ],
    },
    receivers: [
      { name: 'default' },
      {
        name: RECEIVER,
        webhook_configs: [
          {
            url: options.webhookUrl,
            send_resolved: true,
            max_alerts: 0,
            http_config: { authorization: { type: 'Bearer', credentials_file: options.credentialsFile } },
          },
        ],
      },
    ],
  };
  // Alertmanager reads YAML 1.1: writing 1.1 quotes any value it would read as a boolean.
  const doc = new Document(config, { version: '1.1' });
  doc.commentBefore = header(options);

  const route = ['route', 'routes', 0];
  const { shortest } = intervals;
  const shortestBy = shortest.rule ? `rule ${shortest.rule}` : 'the default';
  explain(doc, route, 'matchers', 'Only the alert names the policy\'s rules and vetoes select on; the scaler would ignore any other.');
  explain(
    doc,
    route,
    'group_by',
    `One notification per alert name and target (the ${TARGET_LABEL} label of the rendered rules): a delivery\n` +
      'that fails or is retried for one target never delays or repeats another target\'s.',
  );
  explain(doc, route, 'group_wait', 'The rule\'s `for:` has already debounced the alert; this only gathers alerts that fire together.');
  explain(
    doc,
    route,
    'group_interval',
    `Half the shortest cooldown (${formatDuration(shortest.cooldown)}, ${shortestBy}), kept within ` +
      `${formatDuration(GROUP_INTERVAL_BOUNDS.min)}-${formatDuration(GROUP_INTERVAL_BOUNDS.max)}: a resolve or a new alert\n` +
      'reaches the scaler before that cooldown ends, so an alert resolved in time does not scale again.',
  );
  explain(
    doc,
    route,
    'repeat_interval',
    'Repeats do not drive scaling: the scaler re-evaluates the alerts it holds every minute, and a repeat\n' +
      `carries the same intent id, so it never acts twice. It only keeps a firing alert from expiring after\n` +
      `alertTtl (${formatDuration(policy.defaults.alertTtl)}); a quarter of that survives three lost repeats.`,
  );
  explain(doc, route, 'continue', 'Keep routing: your other routes still notify people about the same alerts.');
  const webhook = ['receivers', 1, 'webhook_configs', 0];
  explain(doc, webhook, 'send_resolved', 'The scaler drops an alert when it resolves; without this it would hold it until alertTtl.');
  explain(doc, webhook, 'max_alerts', 'Never truncate: alerts left out of a notification are lost to the scaler.');
  explain(doc, webhook, 'http_config', 'The bearer token the webhook checks, from a file so that it stays out of this configuration.');
  return doc.toString({ lineWidth: 0 });
};
