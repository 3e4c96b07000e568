import { Document } from 'yaml';

/** The scrape job's name: `up{job="gpu-autoscaler"}` says whether Prometheus reaches the scaler. */
export const SCRAPE_JOB = 'gpu-autoscaler';

export interface StatusEndpoint {
  /** The status function's URL (`StatusLambdaFunctionUrl`), or `http://127.0.0.1:8080/` for local mode. */
  statusUrl: string;
  /** The file holding status's read-only bearer token, as mounted where Prometheus runs. */
  credentialsFile: string;
}

/** What `npm run render` writes when not told otherwise; the README says what to replace. */
export const EXAMPLE_STATUS: StatusEndpoint = {
  statusUrl: 'https://gpu-autoscaler-status.example.com/',
  credentialsFile: '/etc/prometheus/secrets/gpu-autoscaler-status-token',
};

export interface ScrapeRenderOptions extends StatusEndpoint {
  /** Where the policy came from, named in the header. */
  source: string;
}

// The tick evaluates once a minute: a faster scrape only reads the same counters again, and
// each scrape is a status invocation with two SSM reads.
const SCRAPE_INTERVAL = '1m';
const SCRAPE_TIMEOUT = '10s';

/**
 * The Prometheus scrape job for the scaler's own series (`GET /metrics` on the status function),
 * which the rendered self-alerts read: a complete configuration holding only that job, to merge
 * into your `scrape_configs:`.
 */
export const renderPrometheusScrapeConfig = (options: ScrapeRenderOptions): string => {
  const url = new URL(options.statusUrl);
  const doc = new Document(
    {
      scrape_configs: [
        {
          job_name: SCRAPE_JOB,
          scheme: url.protocol.replace(/:$/, ''),
          metrics_path: `${url.pathname.replace(/\/$/, '')}/metrics`,
          scrape_interval: SCRAPE_INTERVAL,
          scrape_timeout: SCRAPE_TIMEOUT,
          authorization: { type: 'Bearer', credentials_file: options.credentialsFile },
          static_configs: [{ targets: [url.host] }],
        },
      ],
    },
    { version: '1.1' },
  );
  doc.commentBefore = [
    ` Prometheus scrape job for gpu-autoscaler's own series, rendered from ${options.source} by \`npm run render\`.`,
    ' Merge the job into the scrape_configs of your prometheus.yml; check with `promtool check config`.',
    ' It reads GET /metrics on the status function with status\'s read-only token (never the webhook\'s):',
    ' scaling_oms_replicas, scaling_replicas{target}, scaling_gpu_nodes{pool}, scaling_pending_training_jobs,',
    ' scaling_evaluations_total and scaling_evaluation_duration_seconds, which the self-alerts',
    ' scaling_controller_evaluations_stalled and scaling_gpu_pool_idle read.',
  ].join('\n');
  return doc.toString({ lineWidth: 0 });
};
