import { Inject, Injectable } from '@nestjs/common';
import { CommandBus, type ICommand } from '@nestjs/cqrs';
import { LOGGER, type SnapledgerLogger } from '../logger';
import { PROJECTION_RUNNER } from '../di-tokens';
import type { ReadYourWrites } from './read-your-writes';

/** What every write command's handler returns: the log position of its last event. */
export interface WriteResult {
  readonly position: number;
}

/** How long a write waits for the views before it answers anyway. */
export const READ_YOUR_WRITES_TIMEOUT_MS = 5000;

/**
 * The command bus of the API's write routes (REST and GraphQL): runs the command, then
 * returns only once the projection runner has applied the events it appended, so the
 * caller's next read sees its write (the SDK lists images right after createImage).
 * The wait is bounded: a write whose views lag answers after the timeout, with a warning.
 */
@Injectable()
export class WriteCommandBus {
  constructor(
    private readonly commands: CommandBus,
    @Inject(PROJECTION_RUNNER) private readonly views: ReadYourWrites,
    @Inject(LOGGER) private readonly logger: SnapledgerLogger,
  ) {}

  async execute<C extends ICommand, R extends WriteResult>(command: C): Promise<R> {
    const result = await this.commands.execute<C, R>(command);
    const applied = await this.views.waitFor(result.position, READ_YOUR_WRITES_TIMEOUT_MS);
    if (!applied) {
      this.logger.warn(
        { command: command.constructor.name, position: result.position },
        'views did not catch up with a write in time; answering anyway',
      );
    }
    return result;
  }
}
