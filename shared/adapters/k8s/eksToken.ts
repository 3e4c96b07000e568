import { Sha256 } from '@smithy/core/checksum';
import { escapeUri } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, QueryParameterBag } from '@smithy/types';

/** What EKS's authenticator expects in front of the encoded URL. */
export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';

/** The signed header that binds a token to one cluster, so it cannot be replayed against another. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';

/** The presigned URL's own lifetime, as `aws eks get-token` and aws-iam-authenticator sign it. */
const PRESIGN_EXPIRES_SECONDS = 60;

/** EKS accepts a token for 15 minutes after its X-Amz-Date, whatever X-Amz-Expires says. */
export const TOKEN_VALIDITY_MS = 15 * 60_000;

export interface EksTokenRequest {
  cluster: string;
  region: string;
  credentials: AwsCredentialIdentity;
  /** The signing instant; the token is valid for {@link TOKEN_VALIDITY_MS} after it. */
  now: Date;
}

export interface EksToken {
  /** `k8s-aws-v1.` + base64url (no padding) of the presigned STS GetCallerIdentity URL. */
  token: string;
  expiresAt: Date;
}

/** STS's regional endpoint; the China partition has its own domain. */
const stsHostname = (region: string): string =>
  `sts.${region}.${region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}`;

const queryString = (query: QueryParameterBag = {}): string =>
  Object.entries(query)
    .map(([key, value]) => `${escapeUri(key)}=${escapeUri(String(value))}`)
    .join('&');

/**
 * The bearer token EKS accepts from an IAM identity: a presigned STS GetCallerIdentity URL
 * with the cluster name signed in as a header. The API server replays the URL to STS to
 * learn who signed it. A pure function of its input: fixed credentials and instant give a
 * fixed token.
 */
export const eksBearerToken = async ({ cluster, region, credentials, now }: EksTokenRequest): Promise<EksToken> => {
  const hostname = stsHostname(region);
  const signer = new SignatureV4({ service: 'sts', region, credentials, sha256: Sha256 });
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, [CLUSTER_ID_HEADER]: cluster },
    },
    { expiresIn: PRESIGN_EXPIRES_SECONDS, signingDate: now },
  );
  const url = `https://${hostname}/?${queryString(presigned.query)}`;
  return {
    token: `${EKS_TOKEN_PREFIX}${Buffer.from(url).toString('base64url')}`,
    expiresAt: new Date(now.getTime() + TOKEN_VALIDITY_MS),
  };
};
