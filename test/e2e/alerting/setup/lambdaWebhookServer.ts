import { createServer } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { functionUrlEvent, lambdaContext } from '../../../support/lambda.ts';
import { listenOnLoopback } from '../../../support/listen.ts';

export type FunctionUrlHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

export interface LambdaWebhookServer {
  /** Base URL on loopback, without a trailing slash. */
  readonly url: string;
  close(): Promise<void>;
}

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
      const event = { ...functionUrlEvent(body, headers, request.method ?? 'GET', url.pathname), rawQueryString: url.search.replace(/^\?/, '') };
      void handler(event, lambdaContext(functionName))
        .then((result) => {
          const { statusCode = 200, headers = {}, body: answer = '' } = result as APIGatewayProxyStructuredResultV2;
          response.writeHead(statusCode, { 'content-type': 'application/json', ...headers }).end(answer);
        })
        .catch(() => response.writeHead(500).end());
    });
  });
  server.keepAliveTimeout = 1_000;

  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
};
