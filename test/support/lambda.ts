import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context, SQSEvent, SQSRecord } from 'aws-lambda';

/** The context Lambda passes a handler; tests only need it to look real. */
export const lambdaContext = (functionName: string): Context => ({
  callbackWaitsForEmptyEventLoop: false,
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
  memoryLimitInMB: '256',
  awsRequestId: randomUUID(),
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: 'test',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

/** A Lambda Function URL request, as the webhook receives it. */
export const functionUrlEvent = (body: string | undefined, headers: Record<string, string> = {}, method = 'POST', path = '/'): APIGatewayProxyEventV2 => ({
  version: '2.0',
  routeKey: '$default',
  rawPath: path,
  rawQueryString: '',
  headers: { 'content-type': 'application/json', ...headers },
  requestContext: {
    accountId: '123456789012',
    apiId: 'url',
    domainName: 'example.lambda-url.us-east-1.on.aws',
    domainPrefix: 'example',
    http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'Alertmanager/0.25.0' },
    requestId: randomUUID(),
    routeKey: '$default',
    stage: '$default',
    time: new Date().toUTCString(),
    timeEpoch: Date.now(),
  },
  isBase64Encoded: false,
  // A Function URL leaves `body` out when the request has none.
  ...(body !== undefined && body !== '' ? { body } : {}),
});

/** A message of the intent queue as the SQS event source mapping hands it to the worker. */
export interface SqsMessage {
  messageId: string;
  body: string;
  group: string;
  /** ApproximateReceiveCount: 1 on the first delivery. */
  receives?: number;
  deduplicationId?: string;
  /** What ReceiveMessage gave for it; the message id stands in when no queue received it. */
  receiptHandle?: string;
}

/** An SQS FIFO batch, as the scaling worker receives it. */
export const sqsEvent = (messages: readonly SqsMessage[]): SQSEvent => ({
  Records: messages.map(
    (m): SQSRecord => ({
      messageId: m.messageId,
      receiptHandle: m.receiptHandle ?? m.messageId,
      body: m.body,
      attributes: {
        ApproximateReceiveCount: String(m.receives ?? 1),
        SentTimestamp: '0',
        SenderId: 'test',
        ApproximateFirstReceiveTimestamp: '0',
        MessageGroupId: m.group,
        MessageDeduplicationId: m.deduplicationId ?? m.messageId,
        SequenceNumber: '',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:queue.fifo',
      awsRegion: 'us-east-1',
    }),
  ),
});

/** Messages as ReceiveMessage returns them (with `All` system attributes), as the worker's event. */
export const sqsEventOfReceived = (
  messages: readonly { MessageId?: string; ReceiptHandle?: string; Body?: string; Attributes?: Partial<Record<string, string>> }[],
): SQSEvent =>
  sqsEvent(
    messages.map((m) => ({
      messageId: m.MessageId ?? '',
      body: m.Body ?? '',
      group: m.Attributes?.MessageGroupId ?? '',
      receives: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
      deduplicationId: m.Attributes?.MessageDeduplicationId ?? '',
      ...(m.ReceiptHandle ? { receiptHandle: m.ReceiptHandle } : {}),
    })),
  );
