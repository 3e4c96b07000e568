import { describe, expect, it } from 'vitest';
import { compactState, MAX_STATE_BYTES, STATE_LIMITS, targetStateSchema } from '../../shared/domain/state.ts';
import { stateOf } from '../support/intents.ts';

describe('Function: compactState', () => {
  it('fits the largest document the caps allow into an SSM Standard parameter', () => {
    // Prepare: every list at its cap, every string at its longest
    const at = '2026-11-23T15:00:00.000Z';
    const state = stateOf('t'.repeat(63), {
      generation: 123_456,
      desired: 50,
      alerts: Array.from({ length: STATE_LIMITS.alerts }, (_, i) => ({
        fingerprint: `${i}`.padEnd(64, 'f'), alertname: 'A'.repeat(80), rules: ['r'.repeat(63), 'v'.repeat(63)], startsAt: at, seenAt: at, value: 123.456,
      })),
      recentIntents: Array.from({ length: STATE_LIMITS.recentIntents }, (_, i) => `${i}`.padEnd(128, 'i')),
      history: Array.from({ length: STATE_LIMITS.history }, () => ({ at, intent: 'i'.repeat(128), from: 1, to: 2, code: 'ScaleUp', message: 'm'.repeat(160) })),
      pause: { until: at, reason: 'p'.repeat(160) },
    });

    // Act
    const compacted = compactState(state);

    // Assess
    expect(JSON.stringify(state).length).toBeGreaterThan(MAX_STATE_BYTES);
    expect(Buffer.byteLength(JSON.stringify(compacted))).toBeLessThan(MAX_STATE_BYTES);
    // Messages are cut to their first words before any alert goes: the code and the intent say the rest
    const last = targetStateSchema.parse(compacted).history.at(-1);
    expect({ ...last, message: '' }).toEqual({ ...state.history.at(-1), message: '' });
    expect(state.history.at(-1)?.message.startsWith(last?.message ?? '-')).toBe(true);
    expect(compacted.recentIntents.length).toBeGreaterThanOrEqual(4);
  });

  it('leaves a small document alone', () => {
    const state = stateOf('app', { desired: 3 });
    expect(compactState(state)).toBe(state);
  });
});
