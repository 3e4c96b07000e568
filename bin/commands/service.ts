import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { userInfo } from 'node:os';
import { z } from 'zod';
import type { EmergencyOutcome } from '../../shared/app/emergency.ts';
import type { ExplainReport } from '../../shared/app/explain.ts';
import type { StatusReport } from '../../shared/app/status.ts';
import { RefusedError, UnreachableError, UsageError } from './output.ts';

/** Where `npm start` listens by default. */
export const DEFAULT_LOCAL_URL = 'http://127.0.0.1:8080';
/** The service name in serverless.yml: the stack is `<service>-<stage>`. */
const SERVICE = 'gpu-autoscaler';

export const CONNECTION_USAGE = `Where it talks to (one of):
  --local [URL]            the npm start server (default ${DEFAULT_LOCAL_URL}; this is also the default)
                           --token T, or GPU_AUTOSCALER_TOKEN: the bearer token npm start was given
  --stage S --region R     the deployed service: the stack ${SERVICE}-S, its outputs, the status token
                           from SSM and the emergency function; AWS credentials from the usual chain`;

/** The service as the operator's commands see it, the same whether local or deployed. */
export interface Service {
  /** Where it is, said in one line. */
  readonly where: string;
  status(): Promise<StatusReport>;
  explain(target: string, at?: string): Promise<ExplainReport>;
  emergency(request: Record<string, unknown>): Promise<EmergencyOutcome[]>;
  /** Who the operator is, as recorded with an emergency when `--actor` is not given. */
  actor(): Promise<string>;
}

export type Connection = { kind: 'local'; url: string; token?: string } | { kind: 'deployed'; stage: string; region: string };

/**
 * Takes the connection flags out of a command line: `--local` has an optional value, which
 * parseArgs cannot say, so it is read here and the rest goes to the command's own parser.
 */
export const takeConnection = (args: readonly string[]): { connection: Connection; rest: string[] } => {
  const rest: string[] = [];
  let local: string | undefined;
  let stage: string | undefined;
  let region: string | undefined;
  let token = process.env.GPU_AUTOSCALER_TOKEN;
  const value = (flag: string, next: string | undefined): string => {
    if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return next;
  };
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    const next = args[i + 1];
    if (arg === '--local') {
      // A host and port without the scheme would be taken for a TARGET and the default server asked instead.
      if (next !== undefined && /^[\w.-]+:\d+(\/.*)?$/.test(next)) throw new UsageError(`--local takes a URL with its scheme: http://${next}`);
      const url = next !== undefined && /^https?:\/\//.test(next) ? (i++, next) : DEFAULT_LOCAL_URL;
      if (!URL.canParse(url) || new URL(url).hostname === '') throw new UsageError(`--local takes a URL such as ${DEFAULT_LOCAL_URL}, got "${url}"`);
      local = url;
    } else if (arg === '--stage') stage = value(arg, (i++, next));
    else if (arg === '--region') region = value(arg, (i++, next));
    else if (arg === '--token') token = value(arg, (i++, next));
    else rest.push(arg);
  }
  if (local !== undefined && (stage !== undefined || region !== undefined)) throw new UsageError('give either --local or --stage and --region, not both');
  if (stage !== undefined || region !== undefined) {
    if (stage === undefined || region === undefined) throw new UsageError('--stage and --region go together');
    return { connection: { kind: 'deployed', stage, region }, rest };
  }
  return { connection: { kind: 'local', url: local ?? DEFAULT_LOCAL_URL, ...(token ? { token } : {}) }, rest };
};

// Zod at the edge: the answers are ours, but an older server lacks fields; say so instead of printing undefined.
const statusSchema = z.looseObject({ at: z.string(), healthy: z.boolean(), problems: z.array(z.string()), targets: z.array(z.looseObject({ id: z.string() })) });
const explainSchema = z.looseObject({ target: z.string(), history: z.array(z.unknown()), now: z.looseObject({ candidates: z.array(z.unknown()) }) });
const outcomesSchema = z.looseObject({ outcomes: z.array(z.looseObject({ target: z.string(), status: z.string() })) });
const refusalSchema = z.looseObject({ error: z.string(), details: z.array(z.unknown()).optional() });

const check = <T>(schema: z.ZodType, body: unknown, what: string): T => {
  const result = schema.safeParse(body);
  if (!result.success) throw new UnreachableError(`${what}: the service's answer lacks ${result.error.issues[0]?.path.join('.') || 'its fields'}; is it an older version? (deploy or restart this one)`);
  return body as T;
};

/** An answer that is not 2xx: 4xx is a refusal (exit 1), 401 and 5xx say the service cannot be used (exit 3). */
const httpJson = async (url: URL, init: RequestInit, what: string): Promise<unknown> => {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
  } catch (error) {
    throw new UnreachableError(`${what}: cannot reach ${url.origin} (${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}); is the service running?`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UnreachableError(`${what}: ${url.origin} answered ${response.status} with something that is not JSON`);
  }
  if (response.ok) return body;
  const refusal = refusalSchema.safeParse(body);
  const message = refusal.success ? refusal.data.error : `HTTP ${response.status}`;
  if (response.status === 401) throw new UnreachableError(`${what}: ${message} (give the token with --token or GPU_AUTOSCALER_TOKEN)`);
  if (response.status >= 500) throw new UnreachableError(`${what}: the service failed (${response.status}): ${message}`);
  throw new RefusedError(`${what}: ${message}`, refusal.success ? (refusal.data.details ?? []) : []);
};

/** Status and explain over HTTP (npm start, or the status Function URL); emergency as the host does it. */
const viaHttp = (base: string, token: string | undefined, emergency: Service['emergency'], where: string, actor: Service['actor']): Service => {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  return {
    where,
    status: async () => check<StatusReport>(statusSchema, await httpJson(new URL('status', base), { headers }, 'status'), 'status'),
    explain: async (target, at) => {
      const url = new URL('explain', base);
      url.searchParams.set('target', target);
      if (at) url.searchParams.set('at', at);
      return check<ExplainReport>(explainSchema, await httpJson(url, { headers }, 'explain'), 'explain');
    },
    emergency,
    actor,
  };
};

/** The npm start server: status, explain and emergency over its HTTP API. */
const localService = (url: string, token: string | undefined): Service => {
  const base = url.endsWith('/') ? url : `${url}/`;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  return viaHttp(base, token, async (request) => {
    const body = await httpJson(new URL('emergency', base), { method: 'POST', headers, body: JSON.stringify(request) }, 'emergency');
    return check<{ outcomes: EmergencyOutcome[] }>(outcomesSchema, body, 'emergency').outcomes;
  }, `local ${url}`, async () => userInfo().username);
};

/**
 * An IAM identity as an actor fits it (64 characters): a user's name, or a role session as
 * `ROLE/SESSION` (with SSO the session is the person's user name). The role stays: the session
 * name is the caller's own choice, so alone it would let any role record itself as anyone.
 * A long role name gives way to the session, never the other way round.
 */
export const actorOfArn = (arn: string): string => {
  const path = arn.split(':').at(-1) ?? arn;
  const [kind, ...rest] = path.split('/');
  if (kind !== 'assumed-role' || rest.length < 2) return (path.split('/').at(-1) ?? path).slice(0, 64);
  const session = rest.at(-1) ?? '';
  const role = rest.slice(0, -1).join('/');
  return `${role.slice(0, Math.max(8, 63 - session.length))}/${session}`.slice(0, 64);
};

const aws = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
  try {
    return await call();
  } catch (error) {
    throw new UnreachableError(`${what}: ${(error as Error).name}: ${(error as Error).message}`);
  }
};

/**
 * The deployed service, found from its CloudFormation stack's outputs: the status Function
 * URL with the status token read from SSM, and the emergency function invoked with the
 * operator's own credentials (IAM decides who may).
 */
const deployedService = async (stage: string, region: string): Promise<Service> => {
  const stackName = `${SERVICE}-${stage}`;
  const cloudFormation = new CloudFormationClient({ region });
  const stack = await aws(`stack ${stackName} in ${region}`, async () => (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0]);
  const outputs = new Map((stack?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  const need = (key: string): string => {
    const value = outputs.get(key);
    if (!value) throw new UnreachableError(`stack ${stackName} in ${region} has no output ${key}: deploy this version (npx serverless deploy --stage ${stage} --region ${region})`);
    return value;
  };
  const statusUrl = need('StatusLambdaFunctionUrl');
  const tokenName = need('StatusTokenParameterName');
  const functionName = need('EmergencyFunctionName');
  const token = await aws(`status token ${tokenName}`, async () =>
    (await new SSMClient({ region }).send(new GetParameterCommand({ Name: tokenName, WithDecryption: true }))).Parameter?.Value);
  const lambda = new LambdaClient({ region });
  return viaHttp(statusUrl.endsWith('/') ? statusUrl : `${statusUrl}/`, token, async (request) => {
    const answer = await aws(`emergency function ${functionName}`, () =>
      lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode(JSON.stringify(request)) })));
    const body: unknown = JSON.parse(new TextDecoder().decode(answer.Payload ?? new Uint8Array()) || 'null');
    if (answer.FunctionError) throw new UnreachableError(`emergency function ${functionName} failed (${answer.FunctionError}): ${JSON.stringify(body)}`);
    const refusal = refusalSchema.safeParse(body);
    if (refusal.success) throw new RefusedError(`emergency: ${refusal.data.error}`, refusal.data.details ?? []);
    return check<{ outcomes: EmergencyOutcome[] }>(outcomesSchema, body, 'emergency').outcomes;
  }, `stage ${stage} in ${region} (stack ${stackName})`, async () => {
    // The function cannot see who invoked it (CloudTrail can): the operator's own credentials say it here.
    const { Arn } = await aws('caller identity (sts:GetCallerIdentity)', () => new STSClient({ region }).send(new GetCallerIdentityCommand({})));
    return Arn ? actorOfArn(Arn) : userInfo().username;
  });
};

export const connect = (connection: Connection): Promise<Service> =>
  connection.kind === 'local' ? Promise.resolve(localService(connection.url, connection.token)) : deployedService(connection.stage, connection.region);
