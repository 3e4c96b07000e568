import {
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  ParameterNotFound,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { type TargetState, targetStateSchema } from '../../domain/state.ts';
import type { StateStore } from '../../ports.ts';

/** GetParameters takes at most 10 names per call. */
const NAMES_PER_CALL = 10;

/**
 * Target state in SSM Parameter Store: one Standard String parameter per target at
 * `<prefix>/targets/<id>`. Reads go to SSM every time (no cache): decisions need fresh state.
 */
export class SsmStateStore implements StateStore {
  public constructor(
    private readonly ssm: SSMClient,
    private readonly prefix: string,
  ) {}

  public async get(target: string): Promise<TargetState | undefined> {
    try {
      const { Parameter } = await this.ssm.send(new GetParameterCommand({ Name: this.name(target) }));
      return this.parse(Parameter?.Name, Parameter?.Value);
    } catch (error) {
      if (error instanceof ParameterNotFound) return undefined;
      throw error;
    }
  }

  public async getMany(targets: readonly string[]): Promise<Map<string, TargetState>> {
    const found = new Map<string, TargetState>();
    for (let i = 0; i < targets.length; i += NAMES_PER_CALL) {
      const names = targets.slice(i, i + NAMES_PER_CALL).map((t) => this.name(t));
      const { Parameters = [] } = await this.ssm.send(new GetParametersCommand({ Names: names }));
      for (const p of Parameters) {
        const state = this.parse(p.Name, p.Value);
        if (state) found.set(state.target, state);
      }
    }
    return found;
  }

  public async list(): Promise<TargetState[]> {
    const states: TargetState[] = [];
    let NextToken: string | undefined;
    do {
      const page = await this.ssm.send(new GetParametersByPathCommand({ Path: `${this.prefix}/targets/`, MaxResults: 10, NextToken }));
      for (const p of page.Parameters ?? []) {
        const state = this.parse(p.Name, p.Value);
        if (state) states.push(state);
      }
      NextToken = page.NextToken;
    } while (NextToken);
    return states;
  }

  public async put(state: TargetState): Promise<void> {
    await this.ssm.send(
      new PutParameterCommand({ Name: this.name(state.target), Value: JSON.stringify(state), Type: 'String', Tier: 'Standard', Overwrite: true }),
    );
  }

  private name(target: string): string {
    return `${this.prefix}/targets/${target}`;
  }

  private parse(name: string | undefined, value: string | undefined): TargetState | undefined {
    if (value === undefined) return undefined;
    const result = targetStateSchema.safeParse(JSON.parse(value));
    if (!result.success) throw new Error(`state parameter ${name} is not a valid state document: ${result.error.issues[0]?.message}`);
    return result.data;
  }
}
