import { GetParameterCommand, ParameterNotFound, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { parseTickRecord, type TickRecord } from '../../domain/tickRecord.ts';
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
    let value: string | undefined;
    try {
      value = (await this.ssm.send(new GetParameterCommand({ Name: this.#name }))).Parameter?.Value;
    } catch (error) {
      if (error instanceof ParameterNotFound) return undefined;
      throw error;
    }
    if (value === undefined) return undefined;
    return parseTickRecord(value, `parameter ${this.#name}`);
  }

  public async put(record: TickRecord): Promise<void> {
    await this.ssm.send(new PutParameterCommand({ Name: this.#name, Value: JSON.stringify(record), Type: 'String', Tier: 'Standard', Overwrite: true }));
  }
}
