/**
 * Why a decision came out as it did. Codes are stable (logs, metrics and the EventBridge
 * audit trail carry them); messages are for people.
 */
export const REASON_CODES = [
  'ScaleUp',
  'ScaleDown',
  'NoRuleMatched',
  'NoChange',
  'CooldownActive',
  'WarmingUp',
  'ScaleDownDelayed',
  'OneStepAtATime',
  'RateLimited',
  'Stabilizing',
  'VetoedByAlert',
  'UpBeatsDown',
  'MissingValue',
  'MetricUnavailable',
  'MetricMissing',
  'WaitingForIdle',
  'ScheduleEntry',
  'ScheduleFloor',
  'ScheduleCeiling',
  'ClampedToMax',
  'ClampedToMin',
  'Paused',
  'PauseSet',
  'PauseExpired',
  'Resumed',
  'Duplicate',
  'IdempotencyKeyReused',
  'StaleAlert',
  'AlertExpired',
  'AlertsTruncated',
  'DriftDetected',
  'DriftRestored',
  'RecoveredUnrecordedAction',
  'GpuCapacityRequested',
  'GpuCapacityLimit',
  'GpuPoolIdle',
  'DrainingPods',
  'HpaBounds',
  'EmergencyDouble',
  'EmergencySet',
  'EmergencyScaleToMin',
  'EmergencyDeprovisionPool',
  'EvaluateNow',
  'UnknownTarget',
  'UpInForce',
  'WithinTolerance',
  'IntentTooOld',
  'PreScale',
  'WindowEntryPending',
  'EventEnded',
  'VetoOverridden',
  'PauseOverridden',
  'AlertsTruncatedVeto',
  'PinReleased',
  'PauseTooLong',
  'PendingActionRetried',
  'PendingAbandoned',
  'StateUnreadable',
  'WaitingForNodes',
  'NodesNotJoined',
  'WaitingForReady',
  'StepNotReady',
  'DisruptionBudgetExhausted',
  'ActiveWork',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

export interface Reason {
  code: ReasonCode;
  message: string;
}

export const reason = (code: ReasonCode, message: string): Reason => ({ code, message });
