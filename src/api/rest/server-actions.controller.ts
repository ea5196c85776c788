import { Body, Controller, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../../config/snapledger.config';
import type { Response } from 'express';
import { CreateBackupCommand, type CreateBackupResult } from '../../commands/create-backup.command';
import { CreateImageCommand, type CreateImageResult } from '../../commands/create-image.command';
import { ValidationError } from '../../domain/domain-errors';
import type { RequestContext } from '../../domain/request-context';
import { WriteCommandBus } from '../write-command.bus';
import { Caller } from '../auth/request-context.decorator';
import type { SnapledgerRequest } from '../request-context.middleware';
import { atLeast, negotiateComputeVersion } from './microversion';

const SUPPORTED_ACTIONS = ['createImage', 'createBackup'] as const;

/** Nova's server action route: POST /v2.1/servers/{id}/action. */
@Controller('v2.1/servers')
export class ServerActionsController {
  constructor(
    private readonly commands: WriteCommandBus,
    @Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig,
  ) {}

  @Post(':id/action')
  @HttpCode(202)
  async action(
    @Param('id') id: string,
    @Body() body: unknown,
    @Caller() caller: RequestContext,
    @Req() req: SnapledgerRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ image_id: string } | undefined> {
    const version = negotiateComputeVersion(req, res);
    const keys = body && typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : [];
    // Nova's action_peek: exactly one key names the action.
    if (keys.length > 1) throw new ValidationError('Malformed message body: too many body keys');
    const action = keys[0];
    if (action === undefined) throw new ValidationError('Malformed request body: no action given');
    if (!(SUPPORTED_ACTIONS as readonly string[]).includes(action)) {
      throw new ValidationError(`There is no such action: ${action}`);
    }
    const metadataQuota = !atLeast(version, 2, 39);
    // Nova's createBackup gives a Location only when the backup is kept (rotation > 0).
    const result =
      action === 'createBackup'
        ? await this.commands.execute<CreateBackupCommand, CreateBackupResult>(
            new CreateBackupCommand(id, body, caller, metadataQuota),
          )
        : await this.commands.execute<CreateImageCommand, CreateImageResult>(
            new CreateImageCommand(id, body, caller, metadataQuota),
          );
    if (atLeast(version, 2, 45)) return { image_id: result.imageId };
    if ('rotation' in result && result.rotation === 0) return undefined;
    // From configuration, never from the request's Host header.
    res.setHeader('Location', `${this.config.publicUrl}/v2/images/${result.imageId}`);
    return undefined;
  }
}
