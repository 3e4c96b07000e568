import { randomUUID } from 'node:crypto';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateClusterCommand, CreateNodegroupCommand, EKSClient } from '@aws-sdk/client-eks';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { inject } from 'vitest';
import { awsClientConfig } from '../../support/awsClients.ts';
import { lambdaContext, sqsEventOfReceived } from '../../support/lambda.ts';

/** Real SDK clients pointed at the emulator, each counting the commands it sends. */
export const emulatorClients = () => {
  const config = awsClientConfig(inject('motoEndpoint'));
  const calls: Record<string, number> = {};
  const counted = <T extends { middlewareStack: { add: (...args: never[]) => void } }>(client: T): T => {
    (client.middlewareStack as unknown as { add: (m: unknown, o: unknown) => void }).add(
      (next: (args: unknown) => Promise<unknown>, context: { commandName: string }) => async (args: unknown) => {
        calls[context.commandName] = (calls[context.commandName] ?? 0) + 1;
        return next(args);
      },
      { step: 'initialize', name: 'countCalls' },
    );
    return client;
  };
  return {
    ssm: counted(new SSMClient(config)),
    sqs: counted(new SQSClient(config)),
    eks: counted(new EKSClient(config)),
    events: counted(new EventBridgeClient(config)),
    cloudWatch: counted(new CloudWatchClient(config)),
    calls,
    resetCalls: () => {
      for (const key of Object.keys(calls)) delete calls[key];
    },
  };
};

export type EmulatorClients = ReturnType<typeof emulatorClients>;

/** A fresh FIFO queue with its FIFO DLQ (maxReceiveCount 5), as serverless.yml creates them. */
export const createQueues = async (sqs: SQSClient, name: string) => {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq.fifo`, Attributes: { FifoQueue: 'true' } }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name}.fifo`,
      Attributes: {
        FifoQueue: 'true',
        VisibilityTimeout: '30',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 5 }),
      },
    }),
  );
  return { queueUrl: queue.QueueUrl ?? '', dlqUrl: dlq.QueueUrl ?? '' };
};

export const createNodegroup = async (eks: EKSClient, cluster: string, nodegroup: string, size: { min: number; max: number; desired: number }) => {
  const role = 'arn:aws:iam::123456789012:role/test';
  await eks.send(new CreateClusterCommand({ name: cluster, roleArn: role, resourcesVpcConfig: {} }));
  await addNodegroup(eks, cluster, nodegroup, size);
};

/** A node group in a cluster createNodegroup already made. */
export const addNodegroup = async (eks: EKSClient, cluster: string, nodegroup: string, size: { min: number; max: number; desired: number }) => {
  const role = 'arn:aws:iam::123456789012:role/test';
  await eks.send(
    new CreateNodegroupCommand({
      clusterName: cluster,
      nodegroupName: nodegroup,
      nodeRole: role,
      subnets: ['subnet-1'],
      scalingConfig: { minSize: size.min, maxSize: size.max, desiredSize: size.desired },
    }),
  );
};

export const putToken = async (ssm: SSMClient, name: string, token: string) => {
  await ssm.send(new PutParameterCommand({ Name: name, Value: token, Type: 'SecureString', Overwrite: true }));
};

export const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

type WorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * Feeds the queue to the worker as the Lambda SQS event source mapping does: batches of up
 * to 10, delete what succeeded, make failures visible again at once (instead of waiting for
 * the visibility timeout). Stops when the queue is empty or after `rounds`.
 */
export const pumpQueue = async (sqs: SQSClient, queueUrl: string, worker: WorkerHandler, rounds = 20) => {
  let processed = 0;
  let failed = 0;
  for (let round = 0; round < rounds; round++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) break;
    const event = sqsEventOfReceived(Messages);
    const { batchItemFailures } = await worker(event, lambdaContext('scaling-worker'));
    const failedIds = new Set(batchItemFailures.map((f) => f.itemIdentifier));
    for (const m of Messages) {
      if (failedIds.has(m.MessageId ?? '')) {
        failed += 1;
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
      } else {
        processed += 1;
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
  }
  return { processed, failed };
};
