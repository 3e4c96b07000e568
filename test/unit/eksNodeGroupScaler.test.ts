import { awsClientConfig } from '../support/awsClients.ts';
import { EKSClient, type UpdateNodegroupConfigCommandInput } from '@aws-sdk/client-eks';
import { describe, expect, it } from 'vitest';
import { clientRequestToken, EksNodeGroupScaler } from '../../shared/adapters/aws/eksNodeGroupScaler.ts';
import { tickIntentId } from '../../shared/app/intentIds.ts';
import type { NodeGroupTarget } from '../../shared/domain/policy.ts';

// A target id of 60 characters: its tick intents of two minutes share their first 64 characters.
const LONG_TARGET = `gpu-pool-${'a'.repeat(51)}`;
const MINUTE_ONE = tickIntentId(LONG_TARGET, new Date('2026-11-23T15:00:00Z'));
const MINUTE_TWO = tickIntentId(LONG_TARGET, new Date('2026-11-23T15:01:00Z'));

const POOL: NodeGroupTarget = {
  id: LONG_TARGET, kind: 'eks-nodegroup', cluster: 'tensafe-prod', nodegroup: 'gpu-workers', min: 1, max: 20,
  gpusPerNode: 4, warmup: 0, maxStepDown: 1, onDrift: 'adopt',
};

/** An EKS client that answers every call itself, on loopback, and keeps what it was asked. */
const recordingEks = () => {
  const updates: UpdateNodegroupConfigCommandInput[] = [];
  const eks = new EKSClient(awsClientConfig('http://127.0.0.1:9'));
  eks.middlewareStack.add(
    (_next, context) => async (args) => {
      if (context.commandName === 'UpdateNodegroupConfigCommand') updates.push(args.input as UpdateNodegroupConfigCommandInput);
      return { output: { $metadata: {}, nodegroup: { scalingConfig: { minSize: 1, maxSize: 20, desiredSize: 1 } } }, response: {} };
    },
    { step: 'initialize', name: 'answerLocally' },
  );
  return { eks, updates };
};

describe('Function: clientRequestToken', () => {
  it('tells apart two intents whose ids share their first 64 characters', () => {
    // Assess
    expect(MINUTE_ONE.slice(0, 64)).toBe(MINUTE_TWO.slice(0, 64));
    expect(clientRequestToken(MINUTE_ONE, 2)).not.toBe(clientRequestToken(MINUTE_TWO, 2));
  });

  it.each([
    { case: 'the same intent and size (a retry) get the same token', id: MINUTE_ONE, desired: 2, same: true },
    { case: 'the same intent re-decided to another size gets another token', id: MINUTE_ONE, desired: 3, same: false },
  ])('$case', ({ id, desired, same }) => {
    // Act
    const [first, second] = [clientRequestToken(MINUTE_ONE, 2), clientRequestToken(id, desired)];

    // Assess
    expect(first === second).toBe(same);
  });

  it.each([MINUTE_ONE, 'e-0b6f0c3e-5b7a-4f0e-9a43-9c1d2f3e4a5b', 'x'.repeat(128)])('fits what EKS takes: 64 characters for %s', (id) => {
    // Assess
    expect(clientRequestToken(id, 2)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('Class: EksNodeGroupScaler', () => {
  it('sends each intent its own token, the same one when an intent is retried', async () => {
    // Prepare
    const { eks, updates } = recordingEks();
    const scaler = new EksNodeGroupScaler(eks);

    // Act
    await scaler.scaleTo(POOL, 2, MINUTE_ONE);
    await scaler.scaleTo(POOL, 2, MINUTE_TWO);
    await scaler.scaleTo(POOL, 2, MINUTE_ONE);

    // Assess
    const tokens = updates.map((u) => u.clientRequestToken);
    expect(tokens).toEqual([clientRequestToken(MINUTE_ONE, 2), clientRequestToken(MINUTE_TWO, 2), clientRequestToken(MINUTE_ONE, 2)]);
    expect(new Set(tokens).size).toBe(2);
  });
});
