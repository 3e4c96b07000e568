import { z } from 'zod';
import { parseWebhookPayload, type WebhookPayload } from '../domain/alertmanager.ts';
import { MAX_DETAILS } from '../errors.ts';
import type { Notice } from './history.ts';
import { readInputFile } from '../inputFile.ts';

const whenSchema = z.union([z.iso.datetime({ offset: true }).transform((text) => Date.parse(text)), z.number().int().nonnegative()]);

/**
 * A logged notification: the body (as JSON or as the text received) with the time it came,
 * under `at`, `timestamp` (a structured log line) or `time`.
 */
const loggedSchema = z.looseObject({
  body: z.unknown(),
  at: whenSchema.optional(),
  timestamp: whenSchema.optional(),
  time: whenSchema.optional(),
});

/** A log of webhook bodies that cannot be replayed, with the lines at fault. */
export class WebhookLogError extends Error {
  public constructor(source: string, problems: readonly string[]) {
    super(`cannot replay ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'WebhookLogError';
  }
}

const json = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** A bare body says nothing of when it came: the newest start (firing) or end (resolved) of its alerts stands for it. */
const impliedTime = (payload: WebhookPayload): number =>
  Math.max(...payload.alerts.map((a) => Date.parse(a.status === 'resolved' && a.endsAt ? a.endsAt : a.startsAt)));

/**
 * Reads webhook bodies logged one JSON per line, each either `{"at": ISO, "body": {...}}` (or a
 * log record with `timestamp` and `body`) or a bare Alertmanager body, into notices in time
 * order. Every body is checked as the webhook checks it.
 */
export const parseWebhookLog = (text: string, source: string): Notice[] => {
  const notices: Notice[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const record = json(line);
    const logged = loggedSchema.safeParse(record);
    const wrapped = logged.success && logged.data.body !== undefined ? logged.data : undefined;
    const body = wrapped ? (typeof wrapped.body === 'string' ? json(wrapped.body) : wrapped.body) : record;
    const payload = parseWebhookPayload(body, MAX_DETAILS);
    if (!payload.success) {
      const first = payload.issues[0];
      problems.push(`line ${index + 1}: not an Alertmanager webhook body${first ? ` (${first.path.join('.') || '(root)'}: ${first.message})` : ''}`);
      return;
    }
    const at = wrapped?.at ?? wrapped?.timestamp ?? wrapped?.time ?? impliedTime(payload.data);
    if (!Number.isFinite(at)) {
      problems.push(`line ${index + 1}: no time: wrap the body as {"at": ISO, "body": ...}`);
      return;
    }
    notices.push({ at, payload: payload.data });
  });
  if (problems.length > 0) throw new WebhookLogError(source, problems.slice(0, MAX_DETAILS));
  return notices.sort((a, b) => a.at - b.at);
};

export const loadWebhookLog = (path: string): Notice[] => parseWebhookLog(readInputFile(path, (problems) => new WebhookLogError(path, problems)), path);
