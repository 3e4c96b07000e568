import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Decision } from '../../domain/decision.ts';
import type { EventSink } from '../../ports.ts';

export const EVENT_SOURCE = 'gpu-autoscaler';
export const EVENT_DETAIL_TYPE = 'Scaling Action';

/** The audit record: the decision without the state document. */
export const auditDetail = ({ state: _state, ...decision }: Decision) => ({ ...decision, generation: _state.generation });

/** One EventBridge event per decision that acted or was refused (PutEvents takes 10). */
export class EventBridgeSink implements EventSink {
  public constructor(
    private readonly events: EventBridgeClient,
    private readonly busName: string,
  ) {}

  public async publish(decisions: readonly Decision[]): Promise<void> {
    for (let i = 0; i < decisions.length; i += 10) {
      const batch = decisions.slice(i, i + 10);
      const { FailedEntryCount = 0, Entries = [] } = await this.events.send(
        new PutEventsCommand({
          Entries: batch.map((d) => ({
            EventBusName: this.busName,
            Source: EVENT_SOURCE,
            DetailType: EVENT_DETAIL_TYPE,
            Resources: [],
            Time: new Date(d.at),
            Detail: JSON.stringify(auditDetail(d)),
          })),
        }),
      );
      if (FailedEntryCount > 0) {
        const failed = Entries.find((e) => e.ErrorCode);
        throw new Error(`EventBridge refused ${FailedEntryCount} audit event(s): ${failed?.ErrorCode} ${failed?.ErrorMessage ?? ''}`.trim());
      }
    }
  }
}
