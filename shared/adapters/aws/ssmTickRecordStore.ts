import { GetParameterCommand, ParameterNotFound, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { type TickRecord, tickRecordSchema } from '../../domain/tickRecord.ts';
import type { TickRecordStore } from '../../ports.ts';

/**
 * The tick's document in SSM Parameter Store, `<prefix>/tick`: beside `<prefix>/targets/`, not
 * under it, so no target-state read ever lists it, and the worker's role cannot write it.
 */
export class SsmTickRecordStore implements TickRecordStore {
  readonly #name: string;

  public constructor(
    private readonly ssm: SSMClient,
    prefix: string,
  ) {
    this.#name = `${prefix}/tick`;
  }

  public async get(): Promise<TickRecord | undefined> {
    try {
      const { Parameter } = await this.ssm.send(new GetParameterCommand({ Name: this.#name }));
      if (Parameter?.Value === undefined) return undefined;
      const result = tickRecordSchema.safeParse(JSON.parse(Parameter.Value));
      if (!result.success) throw new Error(`parameter ${this.#name} is not a tick record: ${result.error.issues[0]?.message}`);
      return result.data;
    } catch (error) {
      if (error instanceof ParameterNotFound) return undefined;
      throw error;
    }
  }

  public async put(record: TickRecord): Promise<void> {
    await this.ssm.send(new PutParameterCommand({ Name: this.#name, Value: JSON.stringify(record), Type: 'String', Tier: 'Standard', Overwrite: true }));
  }
}
