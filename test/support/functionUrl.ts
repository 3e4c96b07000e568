import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { functionUrlEvent, lambdaContext } from './lambda.ts';

export type FunctionUrlHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

/** Calls `then` with a request's whole body. */
export const onBody = (request: IncomingMessage, then: (body: string) => void): void => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => then(Buffer.concat(chunks).toString('utf8')));
};

/**
 * Answers an HTTP request the way a Function URL runs a Lambda handler: the request becomes
 * one payload-2.0 event, the handler's result the HTTP answer (a throw, a 500).
 */
export const answerAsFunctionUrl = (handler: FunctionUrlHandler, functionName: string, request: IncomingMessage, body: string, response: ServerResponse): void => {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(',') : (value ?? '')]));
  const event = { ...functionUrlEvent(body, headers, request.method ?? 'GET', url.pathname), rawQueryString: url.search.replace(/^\?/, '') };
  void handler(event, lambdaContext(functionName)).then(
    (result) => {
      const { statusCode = 200, headers: answerHeaders = {}, body: answer = '' } = result as APIGatewayProxyStructuredResultV2;
      response.writeHead(statusCode, { 'content-type': 'application/json', ...answerHeaders }).end(answer);
    },
    () => response.writeHead(500).end(),
  );
};
