import { type GetParameterCommandInput, SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { ssmToken } from '../../shared/adapters/aws/webhookToken.ts';
import { awsClientConfig } from '../support/awsClients.ts';

/** An SSM client that answers GetParameter itself, on loopback, with the values given in turn. */
const answeringSsm = (answers: (string | Error | undefined)[]) => {
  const asked: GetParameterCommandInput[] = [];
  const ssm = new SSMClient({ ...awsClientConfig('http://127.0.0.1:9'), maxAttempts: 1 });
  ssm.middlewareStack.add(
    () => async (args) => {
      asked.push(args.input as GetParameterCommandInput);
      const answer = answers[Math.min(asked.length, answers.length) - 1];
      if (answer instanceof Error) throw answer;
      return { output: { $metadata: {}, Parameter: answer === undefined ? undefined : { Value: answer } }, response: {} };
    },
    { step: 'initialize', name: 'answerLocally' },
  );
  return { ssm, asked };
};

describe('Function: ssmToken', () => {
  it('reads the SecureString once a minute: a rotated token takes effect within the minute', async () => {
    // Prepare
    let now = 0;
    const { ssm, asked } = answeringSsm(['first', 'rotated']);
    const token = ssmToken(ssm, '/gpu-autoscaler/prod/webhook-token', () => now);

    // Act
    const read = [await token(), await token()];
    now = 59_999;
    read.push(await token());
    now = 60_000;
    read.push(await token());

    // Assess
    expect(read).toEqual(['first', 'first', 'first', 'rotated']);
    expect(asked).toEqual([
      { Name: '/gpu-autoscaler/prod/webhook-token', WithDecryption: true },
      { Name: '/gpu-autoscaler/prod/webhook-token', WithDecryption: true },
    ]);
  });

  // Found by red team 7: a token put from a file kept its newline, and every request was refused.
  it('takes the token without the whitespace around it; a blank one is no token', async () => {
    const { ssm } = answeringSsm(['  from-a-file\n', ' \n']);
    let now = 0;
    const token = ssmToken(ssm, '/gpu-autoscaler/prod/webhook-token', () => now);
    expect(await token()).toBe('from-a-file');
    now = 60_000;
    await expect(token()).rejects.toThrow('SSM parameter /gpu-autoscaler/prod/webhook-token holds no token');
  });

  it('shares one read between the requests that arrive while it is under way', async () => {
    // Prepare
    const { ssm, asked } = answeringSsm(['token']);
    const token = ssmToken(ssm, '/t', () => 0);

    // Act
    const tokens = await Promise.all([token(), token(), token()]);

    // Assess
    expect(tokens).toEqual(['token', 'token', 'token']);
    expect(asked).toHaveLength(1);
  });

  it('keeps no failure: the next request reads again', async () => {
    // Prepare
    const { ssm, asked } = answeringSsm([Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }), undefined, 'token']);
    const token = ssmToken(ssm, '/t', () => 0);

    // Act + Assess
    await expect(token()).rejects.toThrow('Rate exceeded');
    await expect(token()).rejects.toThrow('SSM parameter /t holds no token');
    await expect(token()).resolves.toBe('token');
    expect(asked).toHaveLength(3);
  });
});
