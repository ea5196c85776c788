import { Controller, ForbiddenException, Get, HttpCode, Post } from '@nestjs/common';
import { isAdmin, isMemberOrAdmin, type RequestContext } from '../../domain/request-context';
import { Caller } from '../auth/request-context.decorator';
import { formatHead } from '../../event-store/log-hash';
import {
  type LogVerificationState,
  LogVerificationStatus,
} from '../log-integrity/log-verification.status';

/**
 * The state in the native API's snake_case shape. A break's detail names streams and event
 * ids of every project, so only an admin sees it (and who asked for the walk); everyone sees
 * where and what kind.
 */
const stateShape = (s: LogVerificationState, admin: boolean) => ({
  supported: s.supported,
  running:
    s.running === null
      ? null
      : {
          started_at: s.running.startedAt,
          verified: s.running.verified,
          last_position: s.running.lastPosition,
        },
  last:
    s.last === null
      ? null
      : {
          ok: s.last.result.ok,
          verified: s.last.result.verified,
          last_position: s.last.result.lastPosition,
          // `<position>:<hash>`, the form `snapledger verify --expect-head` takes.
          head: s.last.result.head === null ? null : formatHead(s.last.result.head),
          break:
            s.last.result.break === null
              ? null
              : {
                  position: s.last.result.break.position,
                  kind: s.last.result.break.kind,
                  detail: admin ? s.last.result.break.detail : null,
                },
          started_at: s.last.startedAt,
          finished_at: s.last.finishedAt,
          duration_ms: s.last.durationMs,
          // `service` (this API) or `cli` (`snapledger verify` on the host)
          source: s.last.source,
          // a user of any project: admins only
          requested_by: admin ? s.last.requestedBy : null,
        },
  error: admin ? s.error : s.error === null ? null : 'The last verification could not finish.',
});

/**
 * GET /v1/log/verification: the hash chain's state as the service last checked it, and the
 * progress of a check under way. POST starts a check (members and admins; one at a time,
 * a POST during a check joins it) and answers 202 at once.
 */
@Controller('v1/log')
export class LogVerificationController {
  constructor(private readonly status: LogVerificationStatus) {}

  @Get('verification')
  async show(@Caller() caller: RequestContext) {
    return { verification: stateShape(await this.status.read(), isAdmin(caller.actor)) };
  }

  @Post('verification')
  @HttpCode(202)
  async start(@Caller() caller: RequestContext) {
    if (!isMemberOrAdmin(caller.actor))
      throw new ForbiddenException('Checking the log needs the member or admin role.');
    this.status.start(caller.actor.userId);
    return { verification: stateShape(await this.status.read(), isAdmin(caller.actor)) };
  }
}
