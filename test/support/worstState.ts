import { STATE_LIMITS, type TargetState } from '../../shared/domain/state.ts';

/** The lengths of what a state document repeats: ids (the policy's 63 at most), fingerprints (the webhook's 64 at most), alert names. */
export interface StateSizes {
  id: number;
  fingerprint: number;
  alertname: number;
}

/** The longest the schemas allow: 63-character ids and 64-character fingerprints. */
export const LONGEST: StateSizes = { id: 63, fingerprint: 64, alertname: 63 };
/** A large real platform: Alertmanager's 16-hex fingerprints, ids and alert names of 30 characters. */
export const TYPICAL_LONG: StateSizes = { id: 30, fingerprint: 16, alertname: 30 };

/**
 * A target's state with every list as full as STATE_LIMITS allow and every text as long as its
 * schema lets it be: all alerts vetoes (never dropped), a pause, a pending action, a full
 * outbox, emergency answers and metric readings that all failed (with their error text).
 */
export const fullestState = (sizes: StateSizes): TargetState => {
  const id = (c: string) => c.repeat(sizes.id);
  const at = '2026-11-23T15:11:15.600Z';
  const message = 'm'.repeat(STATE_LIMITS.message);
  const actor = 'b'.repeat(64);
  const intent = `t-${id('x')}-202611231511`;
  const entry = { at, intent, from: 100_000, to: 100_000, code: 'RecoveredUnrecordedAction', cause: 'GpuCapacityRequested', message, by: actor };
  const audit = { intent, generation: Number.MAX_SAFE_INTEGER, at, source: 'coupling', from: 100_000, to: 100_000, verdict: 'scale' as const, code: 'RecoveredUnrecordedAction', cause: 'GpuCapacityRequested', message, rule: id('r'), emergency: true, by: actor };
  return {
    version: 1, target: id('x'), generation: Number.MAX_SAFE_INTEGER, desired: 100_000, lastScaleAt: at, lastUpAt: at, lastDownAt: at,
    alerts: Array.from({ length: STATE_LIMITS.alerts }, (_, i) => ({ fingerprint: String(i).padStart(sizes.fingerprint, 'f'), alertname: 'A'.repeat(sizes.alertname), rules: [id('v')], startsAt: at, seenAt: at, value: -1.2345678901234567e-300, veto: true as const })),
    alertsTruncated: true,
    holding: true,
    droppedVetoes: Array.from({ length: STATE_LIMITS.droppedVetoes }, (_, i) => ({ fingerprint: String(i).padStart(sizes.fingerprint, 'd'), startsAt: at, seenAt: at })),
    vetoesForgottenUntil: at,
    tombstones: Array.from({ length: STATE_LIMITS.tombstones }, (_, i) => ({ fingerprint: String(i).padStart(sizes.fingerprint, 'g'), startsAt: at, resolvedAt: at })),
    pause: { until: at, reason: message, by: actor, pinned: true },
    window: id('w'), windowEntry: { to: 100_000, before: 100_000, done: false }, windowReturn: { window: id('w'), to: 100_000, after: at }, idleSince: at,
    recentIntents: Array.from({ length: STATE_LIMITS.recentIntents }, (_, i) => `t-${id('x')}-2026112315${String(i).padStart(2, '0')}`),
    history: Array.from({ length: STATE_LIMITS.history }, () => entry),
    pending: { to: 100_000, from: 100_000, emergency: true, pin: true, audit },
    outbox: Array.from({ length: STATE_LIMITS.outbox }, () => audit),
    emergencies: Array.from({ length: STATE_LIMITS.emergencies }, () => entry),
    emergencyKeys: Array.from({ length: STATE_LIMITS.emergencyKeys }, (_, i) => i.toString(16).padStart(16, 'f')),
    readings: Array.from({ length: STATE_LIMITS.readings }, () => ({ rule: id('q'), value: -1.2345678901234567e-300, breaching: true, idle: true, error: 'e'.repeat(200), at })),
  };
};

export const documentBytes = (state: TargetState): number => Buffer.byteLength(JSON.stringify(state));
