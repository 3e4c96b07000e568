import { GetParametersByPathCommand, GetParametersCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { parseStateDocument, type TargetState } from '../../domain/state.ts';
import { isTransientNetworkError, RetryableScalingError } from '../../errors.ts';
import { StateRead, type StateStore } from '../../ports.ts';

/** GetParameters takes at most 10 names per call. */
const NAMES_PER_CALL = 10;

/**
 * Target state in SSM Parameter Store: one String parameter per target at
 * `<prefix>/targets/<id>`, Standard while it fits 4 KB; with Intelligent-Tiering SSM moves the
 * rare document that compaction could not fit (every veto, the pending action and the outbox
 * are kept) to the advanced tier (8 KB, charged per parameter-month) instead of refusing it.
 * Reads go to SSM every time (no cache): decisions need fresh state.
 */
export class SsmStateStore implements StateStore {
  public constructor(
    private readonly ssm: SSMClient,
    private readonly prefix: string,
  ) {}

  public async getMany(targets: readonly string[]): Promise<StateRead> {
    const read = new StateRead();
    for (let i = 0; i < targets.length; i += NAMES_PER_CALL) {
      const names = targets.slice(i, i + NAMES_PER_CALL).map((t) => this.name(t));
      const { Parameters = [] } = await ssmCall(() => this.ssm.send(new GetParametersCommand({ Names: names })));
      for (const p of Parameters) this.add(read, p.Name, p.Value);
    }
    return read;
  }

  public async list(): Promise<StateRead> {
    const read = new StateRead();
    let NextToken: string | undefined;
    do {
      const page = await ssmCall(() => this.ssm.send(new GetParametersByPathCommand({ Path: `${this.prefix}/targets/`, MaxResults: 10, NextToken })));
      for (const p of page.Parameters ?? []) this.add(read, p.Name, p.Value);
      NextToken = page.NextToken;
    } while (NextToken);
    return read;
  }

  public async put(state: TargetState): Promise<void> {
    await ssmCall(() =>
      this.ssm.send(new PutParameterCommand({ Name: this.name(state.target), Value: JSON.stringify(state), Type: 'String', Tier: 'Intelligent-Tiering', Overwrite: true })),
    );
  }

  private name(target: string): string {
    return `${this.prefix}/targets/${target}`;
  }

  private add(read: StateRead, name: string | undefined, value: string | undefined): void {
    if (name === undefined || value === undefined) return;
    const target = name.slice(`${this.prefix}/targets/`.length);
    const parsed = parseStateDocument(value, target);
    if ('state' in parsed) read.set(target, parsed.state);
    else read.unreadable.set(target, `${name}: ${parsed.problem}`);
  }
}

/** SSM's throttling is worth a retry soon; everything else is for the caller to judge. */
const ssmCall = async <T>(call: () => Promise<T>): Promise<T> => {
  try {
    return await call();
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'ThrottlingException' || name === 'TooManyUpdates' || isTransientNetworkError(error)) {
      throw new RetryableScalingError(`SSM: ${name}: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
};
