import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EKSClient } from '@aws-sdk/client-eks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterEndpoint, describeClusterEndpoint, EksClusterAccess } from '../../shared/adapters/k8s/eksClusterAccess.ts';
import { PermanentScalingError, RetryableScalingError } from '../../shared/errors.ts';
import { awsClientConfig } from '../support/awsClients.ts';
import { ManualClock } from '../support/clock.ts';

const ENDPOINT: ClusterEndpoint = { server: 'https://127.0.0.1:6443', caData: Buffer.from('-----BEGIN CERTIFICATE-----').toString('base64') };
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session' };

/** EksClusterAccess with counted, in-memory stand-ins for DescribeCluster and the role's credentials. */
const access = (describe: (cluster: string) => Promise<ClusterEndpoint> = async () => ENDPOINT) => {
  const clock = new ManualClock('2026-11-23T15:00:00Z');
  const calls = { describe: 0, credentials: 0 };
  const eks = new EksClusterAccess({
    endpoint: (cluster) => {
      calls.describe += 1;
      return describe(cluster);
    },
    region: async () => 'us-east-1',
    credentials: async () => {
      calls.credentials += 1;
      return CREDENTIALS;
    },
    clock,
  });
  return { eks, clock, calls };
};

describe('Class: EksClusterAccess', () => {
  it.each([
    { after: 60, signs: 1, why: 'a fresh token is reused' },
    { after: 13 * 60 + 59, signs: 1, why: 'still more than a minute of validity left' },
    { after: 14 * 60, signs: 2, why: 'renewed one minute before the 15-minute validity ends' },
    { after: 20 * 60, signs: 2, why: 'an expired token is never reused' },
  ])('after $after s: $why', async ({ after, signs }) => {
    // Prepare
    const { eks, clock, calls } = access();
    const first = await eks.clients('tensafe-prod');
    clock.advance(after);

    // Act
    const later = await eks.clients('tensafe-prod');

    // Assess
    expect(later === first).toBe(signs === 1);
    expect(calls.credentials).toBe(signs);
    expect(calls.describe).toBe(1); // the endpoint and CA are kept for the cold start
  });

  it('keeps one endpoint and one token per cluster', async () => {
    // Prepare
    const { eks, calls } = access();

    // Act
    const prod = await eks.clients('tensafe-prod');
    const staging = await eks.clients('tensafe-staging');

    // Assess
    expect(prod).not.toBe(staging);
    expect(await eks.clients('tensafe-prod')).toBe(prod);
    expect(calls.describe).toBe(2);
  });

  it('asks DescribeCluster again after it failed', async () => {
    // Prepare
    let failures = 1;
    const { eks, calls } = access(async () => {
      if (failures-- > 0) throw new RetryableScalingError('throttled');
      return ENDPOINT;
    });

    // Act
    const first = eks.clients('tensafe-prod');

    // Assess
    await expect(first).rejects.toThrow(RetryableScalingError);
    await expect(eks.clients('tensafe-prod')).resolves.toBeDefined();
    expect(calls.describe).toBe(2);
  });

  it('fails for good without credentials to sign with', async () => {
    // Prepare
    const eks = new EksClusterAccess({
      endpoint: async () => ENDPOINT,
      region: async () => 'us-east-1',
      credentials: async () => {
        throw new Error('Could not load credentials from any providers');
      },
      clock: new ManualClock('2026-11-23T15:00:00Z'),
    });

    // Act
    const clients = eks.clients('tensafe-prod');

    // Assess
    await expect(clients).rejects.toThrow(PermanentScalingError);
    await expect(clients).rejects.toThrow('no AWS credentials to sign an EKS token with: Could not load credentials');
  });
});

/** DescribeCluster answers, by cluster name, as the EKS REST API sends them. */
const ANSWERS: Record<string, { status: number; body: unknown; errorType?: string }> = {
  'tensafe-prod': {
    status: 200,
    body: { cluster: { name: 'tensafe-prod', status: 'ACTIVE', endpoint: ENDPOINT.server, certificateAuthority: { data: ENDPOINT.caData } } },
  },
  'tensafe-new': { status: 200, body: { cluster: { name: 'tensafe-new', status: 'CREATING' } } },
  'tensafe-gone': { status: 404, errorType: 'ResourceNotFoundException', body: { message: 'No cluster found for name: tensafe-gone.' } },
  'tensafe-denied': { status: 403, errorType: 'AccessDeniedException', body: { message: 'not authorized to perform: eks:DescribeCluster' } },
  'tensafe-busy': { status: 429, errorType: 'ThrottlingException', body: { message: 'Rate exceeded' } },
  'tensafe-broken': { status: 500, errorType: 'ServerException', body: { message: 'internal error' } },
};

describe('Function: describeClusterEndpoint', () => {
  let server: Server;
  let describe: (cluster: string) => Promise<ClusterEndpoint>;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const answer = ANSWERS[decodeURIComponent(req.url?.split('/')[2] ?? '')] ?? { status: 404, body: {} };
      res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.errorType ? { 'x-amzn-errortype': answer.errorType } : {}) });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // One attempt: the SDK's own retries would only slow the failing rows down.
    describe = describeClusterEndpoint(new EKSClient({ ...awsClientConfig(`http://127.0.0.1:${port}`), maxAttempts: 1 }));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reads the endpoint and CA of an active cluster', async () => {
    // Prepare: ANSWERS

    // Act
    const endpoint = await describe('tensafe-prod');

    // Assess
    expect(endpoint).toEqual(ENDPOINT);
  });

  it.each([
    { cluster: 'tensafe-new', kind: RetryableScalingError, message: 'EKS cluster tensafe-new has no API endpoint yet (status CREATING)' },
    { cluster: 'tensafe-gone', kind: PermanentScalingError, message: 'describe of EKS cluster tensafe-gone: ResourceNotFoundException' },
    { cluster: 'tensafe-denied', kind: PermanentScalingError, message: 'describe of EKS cluster tensafe-denied: AccessDeniedException' },
    { cluster: 'tensafe-busy', kind: RetryableScalingError, message: 'describe of EKS cluster tensafe-busy: ThrottlingException' },
    { cluster: 'tensafe-broken', kind: RetryableScalingError, message: 'describe of EKS cluster tensafe-broken: ServerException' },
  ])('fails $cluster as $kind.name', async ({ cluster, kind, message }) => {
    // Prepare: ANSWERS

    // Act
    const endpoint = describe(cluster);

    // Assess
    await expect(endpoint).rejects.toThrow(kind);
    await expect(endpoint).rejects.toThrow(message);
  });
});
