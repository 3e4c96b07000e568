import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CLUSTER_ID_HEADER, EKS_TOKEN_PREFIX, eksBearerToken, TOKEN_VALIDITY_MS } from '../../shared/adapters/k8s/eksToken.ts';

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const NOW = new Date('2026-11-23T15:00:00Z');

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();
/** RFC 3986, as SigV4 encodes query values. */
const encode = (text: string): string => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * SigV4 query signing written out step by step from AWS's description, independently of the
 * signer under test: canonical request, string to sign, signing key, signature.
 */
const signatureByHand = (cluster: string, region: string, host: string, sessionToken: string | undefined): string => {
  const scope = `20261123/${region}/sts/aws4_request`;
  const query = [
    'Action=GetCallerIdentity',
    'Version=2011-06-15',
    'X-Amz-Algorithm=AWS4-HMAC-SHA256',
    `X-Amz-Credential=${encode(`AKIDEXAMPLE/${scope}`)}`,
    'X-Amz-Date=20261123T150000Z',
    'X-Amz-Expires=60',
    ...(sessionToken === undefined ? [] : [`X-Amz-Security-Token=${encode(sessionToken)}`]),
    'X-Amz-SignedHeaders=host%3Bx-k8s-aws-id',
  ].join('&');
  const canonicalRequest = ['GET', '/', query, `host:${host}`, `x-k8s-aws-id:${cluster}`, '', 'host;x-k8s-aws-id', sha256('')].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', '20261123T150000Z', scope, sha256(canonicalRequest)].join('\n');
  const key = ['20261123', region, 'sts', 'aws4_request'].reduce<Buffer>((k, part) => hmac(k, part), Buffer.from(`AWS4${SECRET}`));
  return hmac(key, stringToSign).toString('hex');
};

const decode = (token: string): URL => new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString('utf8'));

describe('Function: eksBearerToken', () => {
  it.each([
    // Lambda's role credentials always carry a session token.
    { cluster: 'tensafe-prod', region: 'us-east-1', host: 'sts.us-east-1.amazonaws.com', sessionToken: 'FQoGZXIvYXdzEXAMPLE/+token=' },
    // Long-term user keys have none.
    { cluster: 'ml-staging', region: 'eu-west-1', host: 'sts.eu-west-1.amazonaws.com', sessionToken: undefined },
    // The China partition has its own STS domain.
    { cluster: 'tensafe-cn', region: 'cn-north-1', host: 'sts.cn-north-1.amazonaws.com.cn', sessionToken: 'cn-session' },
  ])('signs a presigned GetCallerIdentity URL for $cluster in $region', async ({ cluster, region, host, sessionToken }) => {
    // Prepare
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET, ...(sessionToken === undefined ? {} : { sessionToken }) };

    // Act
    const { token, expiresAt } = await eksBearerToken({ cluster, region, credentials, now: NOW });

    // Assess
    expect(token.startsWith(EKS_TOKEN_PREFIX)).toBe(true);
    expect(token.slice(EKS_TOKEN_PREFIX.length)).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
    const url = decode(token);
    expect(`${url.protocol}//${url.host}${url.pathname}`).toBe(`https://${host}/`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
      'X-Amz-Credential': `AKIDEXAMPLE/20261123/${region}/sts/aws4_request`,
      'X-Amz-Date': '20261123T150000Z',
      'X-Amz-Expires': '60',
      ...(sessionToken === undefined ? {} : { 'X-Amz-Security-Token': sessionToken }),
      'X-Amz-SignedHeaders': `host;${CLUSTER_ID_HEADER}`,
      'X-Amz-Signature': signatureByHand(cluster, region, host, sessionToken),
    });
    expect(expiresAt.getTime() - NOW.getTime()).toBe(TOKEN_VALIDITY_MS);
  });

  it('gives the same token for the same credentials and instant', async () => {
    // Prepare
    const request = {
      cluster: 'tensafe-prod',
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET, sessionToken: 'FQoGZXIvYXdzEXAMPLE/+token=' },
      now: NOW,
    };

    // Act
    const token = (await eksBearerToken(request)).token;

    // Assess: the vector below was derived with signatureByHand and must never change
    expect(decode(token).searchParams.get('X-Amz-Signature')).toBe('5c4ad359b1131bcb225b990aedda71fc57938fdf0428e26e1643cd62ff81a6aa');
    expect(token).toBe((await eksBearerToken(request)).token);
    expect(token).not.toBe((await eksBearerToken({ ...request, cluster: 'tensafe-staging' })).token);
  });
});
