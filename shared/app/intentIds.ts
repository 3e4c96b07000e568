import { createHash, randomUUID } from 'node:crypto';

/**
 * The id of the intent an alert notification yields for one target. The same alert
 * (fingerprint, status, startsAt) matched by the same rules always yields the same id, so
 * SQS drops the copy an HA pair of Alertmanagers sends, and the worker recognises a redelivery.
 */
export const alertIntentId = (target: string, fingerprint: string, status: string, startsAt: string, rules: readonly string[]): string =>
  `a-${createHash('sha256').update([target, fingerprint, status, startsAt, [...rules].sort().join(',')].join('\n')).digest('hex').slice(0, 40)}`;

/**
 * The id of the intent that carries a notification's alerts for one target: the same alerts
 * (by their ids above) always yield the same id, so an HA pair's copy of the notification is
 * dropped by SQS and recognised by the worker.
 */
export const alertsIntentId = (target: string, alertIds: readonly string[]): string =>
  alertIds.length === 1 && alertIds[0] !== undefined
    ? alertIds[0]
    : `a-${createHash('sha256').update([target, ...[...alertIds].sort()].join('\n')).digest('hex').slice(0, 40)}`;

/** One tick intent per target and minute: a tick delivered twice acts once. */
export const tickIntentId = (target: string, at: Date): string => `t-${target}-${at.toISOString().slice(0, 16).replace(/[-:T]/g, '')}`;

export const couplingIntentId = (target: string, ensureAtLeast: number, cause: string): string =>
  `c-${createHash('sha256').update([target, ensureAtLeast, cause].join('\n')).digest('hex').slice(0, 40)}`;

/**
 * An emergency command's intent for one target: its own, or with an idempotency key the same
 * id each time the key is sent with the same command, so a retried command is recognised as the
 * first one. A keyed id is `ek-`, 32 hex of the target and key, then 8 hex of the command: the
 * same key with another command shares the first part only, which is how it is told apart and
 * refused (domain/intent.ts keyedEmergencyMark reads that layout). The tag is not the `e-` of
 * the ids an earlier version gave keyed commands, which named the key alone.
 */
export const emergencyIntentId = (target: string, idempotencyKey?: string, command?: unknown): string =>
  idempotencyKey === undefined
    ? `e-${randomUUID()}`
    : `ek-${sha256Hex([target, idempotencyKey].join('\n')).slice(0, 32)}${sha256Hex(JSON.stringify(command ?? null)).slice(0, 8)}`;

const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');
