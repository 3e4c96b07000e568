import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

export type FunctionUrlHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

export interface LambdaWebhookServer {
  /** Base URL on loopback, without a trailing slash. */
  readonly url: string;
  close(): Promise<void>;
}

const context = (functionName: string): Context => ({
  callbackWaitsForEmptyEventLoop: false,
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
  memoryLimitInMB: '256',
  awsRequestId: randomUUID(),
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: 'e2e',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

/**
 * Serves a Lambda handler on loopback the way a Function URL invokes it: each HTTP request
 * becomes one payload-2.0 event, and the handler's result becomes the HTTP answer.
 */
export const serveLambdaWebhook = async (functionName: string, handler: FunctionUrlHandler): Promise<LambdaWebhookServer> => {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const headers = Object.fromEntries(
        Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(',') : (value ?? '')]),
      );
      const event: APIGatewayProxyEventV2 = {
        version: '2.0',
        routeKey: '$default',
        rawPath: url.pathname,
        rawQueryString: url.search.replace(/^\?/, ''),
        headers,
        requestContext: {
          accountId: '123456789012',
          apiId: 'url',
          domainName: 'e2e.lambda-url.us-east-1.on.aws',
          domainPrefix: 'e2e',
          http: { method: request.method ?? 'GET', path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
          requestId: randomUUID(),
          routeKey: '$default',
          stage: '$default',
          time: new Date().toUTCString(),
          timeEpoch: Date.now(),
        },
        isBase64Encoded: false,
        ...(body === '' ? {} : { body }),
      };
      void handler(event, context(functionName))
        .then((result) => {
          const { statusCode = 200, body: answer = '' } = result as APIGatewayProxyStructuredResultV2;
          response.writeHead(statusCode, { 'content-type': 'application/json' }).end(answer);
        })
        .catch(() => response.writeHead(500).end());
    });
  });
  server.keepAliveTimeout = 1_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
};
