/** The environment a function's handler module reads when it is imported, pointed at nothing real. */
const UNIT_ENV = {
  STATE_PREFIX: '/gpu-autoscaler/unit',
  QUEUE_URL: 'http://127.0.0.1:9/queue/unit.fifo',
  TOKEN_PARAMETER: '/gpu-autoscaler/unit/webhook-token',
  STATUS_TOKEN_PARAMETER: '/gpu-autoscaler/unit/status-token',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
};

/** The webhook's handler module, imported as Lambda would: its default wiring reads the environment. */
export const importWebhook = async () => {
  Object.assign(process.env, UNIT_ENV);
  return import('../../functions/alertmanager-webhook/handler.ts');
};

export type WebhookModule = Awaited<ReturnType<typeof importWebhook>>;

/** The status function's handler module, imported as Lambda would. */
export const importStatus = async () => {
  Object.assign(process.env, UNIT_ENV);
  return import('../../functions/status/handler.ts');
};

/** The scaling worker's handler module, imported as Lambda would. */
export const importWorker = async () => {
  Object.assign(process.env, UNIT_ENV);
  return import('../../functions/scaling-worker/handler.ts');
};
