import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';

/** The token is read once a minute at most: rotation takes effect within a minute. */
const TOKEN_MAX_AGE_MS = 60_000;

/**
 * Reads a bearer token (the webhook's, or status's own) from its SSM SecureString, kept for a
 * minute, through the function's own SSM client (its timeouts and retries). One GetParameter
 * with a cache is all this needs, where Powertools Parameters brought 9 KiB of providers and
 * a second SSM client to every cold start. A failed read is not kept: the next request tries again.
 */
export const ssmToken = (ssm: SSMClient, name: string, now: () => number = Date.now) => {
  let cached: { token: Promise<string>; until: number } | undefined;
  const read = async (): Promise<string> => {
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    // A value put from a file (`--value file://token`) keeps its newline, which no header can carry.
    const token = Parameter?.Value?.trim();
    if (!token) throw new Error(`SSM parameter ${name} holds no token`);
    return token;
  };
  return (): Promise<string> => {
    if (cached && now() < cached.until) return cached.token;
    const token = read();
    cached = { token, until: now() + TOKEN_MAX_AGE_MS };
    token.catch(() => {
      if (cached?.token === token) cached = undefined;
    });
    return token;
  };
};
