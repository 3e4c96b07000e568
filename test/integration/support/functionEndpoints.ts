import { createServer } from 'node:http';
import type { Context } from 'aws-lambda';
import { answerAsFunctionUrl, type FunctionUrlHandler, onBody } from '../../support/functionUrl.ts';
import { lambdaContext } from '../../support/lambda.ts';
import { listenOnLoopback } from '../../support/listen.ts';

type InvokedHandler = (event: unknown, context: Context) => Promise<unknown>;

const INVOKE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/**
 * The deployed functions as the operator's command reaches them, on loopback: a Function URL
 * (each request one payload-2.0 event) and the Lambda Invoke API (`POST
 * /2015-03-31/functions/NAME/invocations`, the payload in, the handler's result out). moto's
 * Lambda runs code only in Docker images it pulls, which this machine cannot; these run the
 * real handlers in the test's process instead.
 */
export const serveFunctions = async (functionUrl: FunctionUrlHandler, invoked: Record<string, InvokedHandler>) => {
  const invocations: { name: string; payload: unknown }[] = [];
  const server = createServer((request, response) =>
    onBody(request, (body) => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const name = INVOKE.exec(url.pathname)?.[1];
      if (request.method === 'POST' && name !== undefined) {
        const handler = invoked[decodeURIComponent(name)];
        if (!handler) {
          response.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' }).end(JSON.stringify({ message: `Function not found: ${name}` }));
          return;
        }
        const payload: unknown = JSON.parse(body || 'null');
        invocations.push({ name: decodeURIComponent(name), payload });
        void handler(payload, lambdaContext(name)).then(
          (result) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result)),
          (error: Error) => response.writeHead(200, { 'x-amz-function-error': 'Unhandled' }).end(JSON.stringify({ errorType: error.name, errorMessage: error.message })),
        );
        return;
      }
      answerAsFunctionUrl(functionUrl, 'status', request, body, response);
    }),
  );
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    invocations,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
