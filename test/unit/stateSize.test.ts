import { describe, expect, it } from 'vitest';
import { compactState, MAX_STATE_BYTES, STATE_LIMITS, targetStateSchema } from '../../shared/domain/state.ts';
import { documentBytes, fullestState, LONGEST, TYPICAL_LONG } from '../support/worstState.ts';

describe('Function: compactState', () => {
  it.each([
    { sizes: TYPICAL_LONG, label: '30-character ids, Alertmanager fingerprints' },
    { sizes: LONGEST, label: 'the longest ids and fingerprints the schemas allow' },
  ])('fits a busy target into a Standard parameter ($label)', ({ sizes }) => {
    // Prepare: every list full, a pending action and one unpublished event; alerts firing, two of them vetoes
    const fullest = fullestState(sizes);
    const state = targetStateSchema.parse({
      ...fullest,
      alerts: fullest.alerts.map((a, i) => (i < 2 ? a : { ...a, veto: undefined })),
      outbox: fullest.outbox?.slice(0, 1),
      readings: undefined,
      droppedVetoes: undefined,
      // Four keyed commands remembered; all 32 add 600 bytes, the advanced tier's business (README)
      emergencyKeys: fullest.emergencyKeys?.slice(-4),
    });

    // Act
    const compacted = compactState(state);

    // Assess: under 4,096 bytes, keeping what must never go
    expect(documentBytes(state)).toBeGreaterThan(MAX_STATE_BYTES);
    expect(documentBytes(compacted)).toBeLessThan(MAX_STATE_BYTES);
    // (their messages cut to their first words: the code and the intent say the rest)
    expect({ ...compacted.pending, audit: { ...compacted.pending?.audit, message: '' } }).toEqual({ ...state.pending, audit: { ...state.pending?.audit, message: '' } });
    expect(compacted.outbox?.map((r) => r.intent)).toEqual(state.outbox?.map((r) => r.intent));
    expect(compacted.pause).toEqual(state.pause);
    expect(compacted.alerts.filter((a) => a.veto)).toHaveLength(2);
    expect(targetStateSchema.safeParse(compacted).success).toBe(true);
  });

  it('keeps every veto, the pending action, the outbox and the pause even when they alone pass 4,096 bytes', () => {
    // Prepare: the fullest document the schemas allow: 12 vetoes, 8 failing readings, 4 unpublished events
    const state = targetStateSchema.parse(fullestState(LONGEST));

    // Act
    const compacted = compactState(state);

    // Assess: what is left is what a decision needs (the README's "State at scale" gives the sizes)
    expect(compacted.alerts).toHaveLength(STATE_LIMITS.alerts);
    expect(compacted.outbox).toHaveLength(STATE_LIMITS.outbox);
    expect(compacted.pending?.to).toBe(state.pending?.to);
    expect(compacted.history).toHaveLength(1);
    expect(compacted.emergencies).toHaveLength(1);
    expect(compacted.recentIntents).toHaveLength(4);
    expect(compacted.emergencyKeys).toHaveLength(STATE_LIMITS.emergencyKeys);
    expect(documentBytes(compacted)).toBeLessThan(documentBytes(state));
  });
});
