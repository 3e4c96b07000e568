import { createHash, randomUUID } from 'node:crypto';

/**
 * The id of the intent an alert notification yields for one target. The same alert
 * (fingerprint, status, startsAt) matched by the same rules always yields the same id, so
 * SQS drops the copy an HA pair of Alertmanagers sends, and the worker recognises a redelivery.
 */
export const alertIntentId = (target: string, fingerprint: string, status: string, startsAt: string, rules: readonly string[]): string =>
  `a-${createHash('sha256').update([target, fingerprint, status, startsAt, [...rules].sort().join(',')].join('\n')).digest('hex').slice(0, 40)}`;

/** One tick intent per target and minute: a tick delivered twice acts once. */
export const tickIntentId = (target: string, at: Date): string => `t-${target}-${at.toISOString().slice(0, 16).replace(/[-:T]/g, '')}`;

export const couplingIntentId = (target: string, ensureAtLeast: number, cause: string): string =>
  `c-${createHash('sha256').update([target, ensureAtLeast, cause].join('\n')).digest('hex').slice(0, 40)}`;

/**
 * Every emergency command is its own intent, unless the operator gives an idempotency key:
 * the same key always yields the same intent for a target, so a command sent twice acts once.
 */
export const emergencyIntentId = (target: string, idempotencyKey?: string): string =>
  idempotencyKey === undefined ? `e-${randomUUID()}` : `e-${createHash('sha256').update([target, idempotencyKey].join('\n')).digest('hex').slice(0, 40)}`;
