import { getParameter } from '@aws-lambda-powertools/parameters/ssm';

/** The token is read once a minute at most: rotation takes effect within a minute. */
const TOKEN_MAX_AGE_SECONDS = 60;

/** Reads a bearer token (the webhook's, or status's own) from its SSM SecureString, cached briefly. */
export const ssmToken = (name: string) => async (): Promise<string> => {
  const token = await getParameter(name, { decrypt: true, maxAge: TOKEN_MAX_AGE_SECONDS });
  if (!token) throw new Error(`SSM parameter ${name} holds no token`);
  return token;
};
