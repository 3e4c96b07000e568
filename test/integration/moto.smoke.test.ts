// Proves the emulator answers the real SDK clients for every call the
// autoscaler makes, so later integration tests fail on our code, not on moto.
import { randomUUID } from 'node:crypto';
import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateClusterCommand,
  CreateNodegroupCommand,
  DescribeNodegroupCommand,
  EKSClient,
  UpdateNodegroupConfigCommand,
} from '@aws-sdk/client-eks';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import {
  GetParameterCommand,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
  paginateGetParametersByPath,
} from '@aws-sdk/client-ssm';
import { describe, expect, inject, it } from 'vitest';
import { awsClientConfig } from '../support/awsClients.ts';

const config = awsClientConfig(inject('motoEndpoint'));
// Unique names instead of resetting moto: other files share the server concurrently.
const run = randomUUID().slice(0, 8);

describe('SSM Parameter Store', () => {
  const ssm = new SSMClient(config);
  const prefix = `/smoke/${run}`;

  it('stores String and SecureString parameters', async () => {
    await ssm.send(new PutParameterCommand({ Name: `${prefix}/plain`, Value: 'v1', Type: 'String' }));
    await ssm.send(new PutParameterCommand({ Name: `${prefix}/secret`, Value: 's3cret', Type: 'SecureString' }));
    const overwritten = await ssm.send(
      new PutParameterCommand({ Name: `${prefix}/plain`, Value: 'v2', Type: 'String', Overwrite: true }),
    );
    expect(overwritten.Version).toBe(2);

    const plain = await ssm.send(new GetParameterCommand({ Name: `${prefix}/plain` }));
    expect(plain.Parameter).toMatchObject({ Value: 'v2', Type: 'String', Version: 2 });

    const secret = await ssm.send(new GetParameterCommand({ Name: `${prefix}/secret`, WithDecryption: true }));
    expect(secret.Parameter).toMatchObject({ Value: 's3cret', Type: 'SecureString' });

    const many = await ssm.send(
      new GetParametersCommand({ Names: [`${prefix}/plain`, `${prefix}/secret`, `${prefix}/missing`], WithDecryption: true }),
    );
    expect(many.Parameters?.map((p) => p.Value).sort()).toEqual(['s3cret', 'v2']);
    expect(many.InvalidParameters).toEqual([`${prefix}/missing`]);
  });

  it('pages GetParametersByPath', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `${prefix}/paged/p${String(i).padStart(2, '0')}`);
    for (const name of names) {
      await ssm.send(new PutParameterCommand({ Name: name, Value: name, Type: 'String' }));
    }
    const pages = [];
    for await (const page of paginateGetParametersByPath(
      { client: ssm, pageSize: 5 },
      { Path: `${prefix}/paged`, Recursive: true },
    )) {
      pages.push(page.Parameters?.map((p) => p.Name) ?? []);
    }
    expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
    expect(pages.flat().sort()).toEqual(names);
  });

  it('routes a client built without config to moto through the environment', async () => {
    await ssm.send(new PutParameterCommand({ Name: `${prefix}/env`, Value: 'from-env', Type: 'String' }));
    const bare = new SSMClient({});
    const { Parameter } = await bare.send(new GetParameterCommand({ Name: `${prefix}/env` }));
    expect(Parameter?.Value).toBe('from-env');
  });
});

describe('SQS FIFO queue', () => {
  const sqs = new SQSClient(config);
  const receive = async (queueUrl: string, max = 10): Promise<Message[]> => {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
      }),
    );
    return out.Messages ?? [];
  };
  const createFifo = async (name: string, attributes: Record<string, string> = {}): Promise<string> => {
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${name}.fifo`,
        Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false', ...attributes },
      }),
    );
    if (QueueUrl === undefined) throw new Error('CreateQueue returned no QueueUrl');
    return QueueUrl;
  };
  const queueArn = async (queueUrl: string): Promise<string> => {
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    const arn = Attributes?.QueueArn;
    if (arn === undefined) throw new Error('queue has no QueueArn');
    return arn;
  };

  it('dedups, keeps one message group in flight, and redrives to the DLQ', async () => {
    const dlqUrl = await createFifo(`smoke-${run}-dlq`);
    const queueUrl = await createFifo(`smoke-${run}`, {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: await queueArn(dlqUrl), maxReceiveCount: 2 }),
    });

    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          { Id: 'a1', MessageBody: 'a1', MessageGroupId: 'pool-a', MessageDeduplicationId: 'a1' },
          { Id: 'a2', MessageBody: 'a2', MessageGroupId: 'pool-a', MessageDeduplicationId: 'a2' },
          { Id: 'b1', MessageBody: 'b1', MessageGroupId: 'pool-b', MessageDeduplicationId: 'b1' },
        ],
      }),
    );
    expect(sent.Failed ?? []).toEqual([]);
    // A repeated deduplication id is accepted but not enqueued again.
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'a1 again', MessageGroupId: 'pool-a', MessageDeduplicationId: 'a1' }),
    );
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    expect(Attributes?.ApproximateNumberOfMessages).toBe('3');

    const [a1] = await receive(queueUrl, 1);
    expect(a1?.Body).toBe('a1');
    expect(a1?.Attributes?.ApproximateReceiveCount).toBe('1');

    // pool-a is blocked while a1 is in flight; pool-b is not.
    const whileA1InFlight = await receive(queueUrl);
    expect(whileA1InFlight.map((m) => m.Body)).toEqual(['b1']);

    for (const message of [a1, ...whileA1InFlight]) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message?.ReceiptHandle }));
    }

    // a2 fails twice (visibility reset to 0 stands in for a crashed consumer) ...
    for (const attempt of ['1', '2']) {
      const [a2] = await receive(queueUrl);
      expect(a2).toMatchObject({ Body: 'a2', Attributes: { ApproximateReceiveCount: attempt } });
      await sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: a2?.ReceiptHandle, VisibilityTimeout: 0 }),
      );
    }
    // ... so the next receive moves it to the DLQ instead of delivering it.
    expect(await receive(queueUrl)).toEqual([]);
    const dead = await receive(dlqUrl);
    expect(dead.map((m) => m.Body)).toEqual(['a2']);
  });
});

describe('EKS managed node groups', () => {
  const eks = new EKSClient(config);

  it('resizes a node group with UpdateNodegroupConfig', async () => {
    const clusterName = `smoke-${run}`;
    const nodegroupName = 'gpu-a10g';
    await eks.send(
      new CreateClusterCommand({
        name: clusterName,
        roleArn: 'arn:aws:iam::123456789012:role/eks-cluster',
        resourcesVpcConfig: { subnetIds: ['subnet-11111111', 'subnet-22222222'] },
      }),
    );
    await eks.send(
      new CreateNodegroupCommand({
        clusterName,
        nodegroupName,
        nodeRole: 'arn:aws:iam::123456789012:role/eks-node',
        subnets: ['subnet-11111111'],
        instanceTypes: ['g5.xlarge'],
        scalingConfig: { minSize: 0, maxSize: 4, desiredSize: 0 },
      }),
    );

    const { update } = await eks.send(
      new UpdateNodegroupConfigCommand({
        clusterName,
        nodegroupName,
        scalingConfig: { desiredSize: 3 },
        clientRequestToken: `smoke-${run}`,
      }),
    );
    expect(update).toMatchObject({ type: 'ConfigUpdate', status: 'Successful' });

    const { nodegroup } = await eks.send(new DescribeNodegroupCommand({ clusterName, nodegroupName }));
    expect(nodegroup?.status).toBe('ACTIVE');
    expect(nodegroup?.scalingConfig).toEqual({ minSize: 0, maxSize: 4, desiredSize: 3 });
  });
});

describe('EventBridge', () => {
  const events = new EventBridgeClient(config);

  it('accepts PutEvents', async () => {
    const out = await events.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'gpu-autoscaler',
            DetailType: 'ScalingDecision',
            Detail: JSON.stringify({ run, nodegroup: 'gpu-a10g', desiredSize: 3 }),
          },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries?.[0]?.EventId).toEqual(expect.any(String));
  });
});

describe('CloudWatch metrics', () => {
  const cloudwatch = new CloudWatchClient(config);

  it('returns PutMetricData points from GetMetricData', async () => {
    const namespace = `Smoke/${run}`;
    const dimensions = [{ Name: 'NodeGroup', Value: 'gpu-a10g' }];
    // moto buckets from StartTime, so a minute-aligned start makes buckets predictable.
    const start = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000);
    const at = (minutes: number, seconds = 0): Date => new Date(start.getTime() + minutes * 60_000 + seconds * 1_000);

    await cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: namespace,
        MetricData: [
          { MetricName: 'PendingGpuPods', Dimensions: dimensions, Timestamp: at(1, 10), Value: 2, Unit: 'Count' },
          { MetricName: 'PendingGpuPods', Dimensions: dimensions, Timestamp: at(1, 40), Value: 5, Unit: 'Count' },
          { MetricName: 'PendingGpuPods', Dimensions: dimensions, Timestamp: at(3, 5), Value: 1, Unit: 'Count' },
        ],
      }),
    );

    const out = await cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: at(5),
        ScanBy: 'TimestampAscending',
        MetricDataQueries: [
          {
            Id: 'pending',
            MetricStat: {
              Metric: { Namespace: namespace, MetricName: 'PendingGpuPods', Dimensions: dimensions },
              Period: 60,
              Stat: 'Maximum',
            },
          },
        ],
      }),
    );
    const [result] = out.MetricDataResults ?? [];
    expect(result?.StatusCode).toBe('Complete');
    expect(result?.Values).toEqual([5, 1]);
    expect(result?.Timestamps).toEqual([at(1), at(3)]);
  });
});
