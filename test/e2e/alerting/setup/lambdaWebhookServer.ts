import { createServer } from 'node:http';
import { answerAsFunctionUrl, type FunctionUrlHandler, onBody } from '../../../support/functionUrl.ts';
import { listenOnLoopback } from '../../../support/listen.ts';

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
  const server = createServer((request, response) => onBody(request, (body) => answerAsFunctionUrl(handler, functionName, request, body, response)));
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
