import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Inject,
  NotFoundException,
  Post,
  Res,
  UnauthorizedException,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import type { RequestContext } from '../../domain/request-context';
import { isAdmin } from '../../domain/request-context';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../../config/snapledger.config';
import { Caller, Public } from '../auth/request-context.decorator';
import { TokenService } from '../auth/token.service';
import { UserService } from '../auth/user.service';
import { identityVersion, identityVersions } from './identity-version.document';
import { IDENTITY_TOKEN_TTL } from './identity-token-ttl.config';
import { effectiveRoles, keystoneTokenBody } from './keystone-token.body';
import { parsePasswordAuth, projectIdOf } from './password-auth.request';

const UNAUTHORIZED = 'The request you have made requires authentication.';
const NO_TOKEN = 'Could not find token.';

/**
 * A Keystone v3 subset, enough for keystoneauth's password plugin (the `openstack` CLI):
 * version discovery, and issuing, validating and revoking tokens. Tokens are the same
 * X-Auth-Tokens every other route accepts (TokenService). Errors come in Keystone's shape
 * (the 'keystone' API family). Kept out of the OpenAPI document: its reference is Keystone's.
 */
@ApiExcludeController()
@Controller('identity')
export class IdentityController {
  constructor(
    private readonly tokens: TokenService,
    private readonly users: UserService,
    @Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig,
    @Inject(IDENTITY_TOKEN_TTL) private readonly ttlSeconds: number,
  ) {}

  @Public()
  @Get()
  @HttpCode(300)
  versions() {
    return identityVersions(this.config.publicUrl);
  }

  /** GET /identity/v3 and /identity/v3/. */
  @Public()
  @Get('v3')
  version() {
    return { version: identityVersion(this.config.publicUrl) };
  }

  /** The password method; answers 201 with the new token in X-Subject-Token. */
  @Public()
  @Post('v3/auth/tokens')
  async issue(@Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const parsed = parsePasswordAuth(body);
    if (!parsed.ok) {
      if (parsed.status === 401) throw new UnauthorizedException(parsed.message);
      throw new BadRequestException(parsed.message);
    }
    const { request } = parsed;
    const user = await this.users.authenticate(request.user, request.password);
    if (!user) throw new UnauthorizedException(UNAUTHORIZED);
    // Without a scope Keystone scopes to the user's default project; users have one project.
    const projectId = request.scope ? projectIdOf(request.scope) : user.projectId;
    if (projectId !== user.projectId) throw new UnauthorizedException(UNAUTHORIZED);
    const issued = await this.tokens.issue({
      userId: user.id,
      userName: user.name,
      projectId,
      roles: effectiveRoles(user.roles),
      ttlSeconds: this.ttlSeconds,
    });
    res.setHeader('X-Subject-Token', issued.token);
    return keystoneTokenBody({
      token: issued.token,
      user: { id: user.id, name: user.name },
      projectId,
      roles: issued.actor.roles,
      issuedAt: issued.issuedAt,
      expiresAt: issued.expiresAt,
      publicUrl: this.config.publicUrl,
    });
  }

  /**
   * Validates X-Subject-Token: the caller's own token, or any token for an admin. Express
   * answers HEAD with this handler too (status only, no body), as Keystone's check does.
   */
  @Get('v3/auth/tokens')
  async validate(
    @Caller() caller: RequestContext,
    @Headers('x-subject-token') subject: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    const { token, body } = await this.subjectOf(caller, subject);
    res.setHeader('X-Subject-Token', token);
    return body;
  }

  /** Revokes X-Subject-Token (the caller's own, or any for an admin): 401 from then on. */
  @Delete('v3/auth/tokens')
  @HttpCode(204)
  async revoke(
    @Caller() caller: RequestContext,
    @Headers('x-subject-token') subject: string | undefined,
  ): Promise<void> {
    const { token } = await this.subjectOf(caller, subject);
    await this.tokens.revoke(token);
  }

  /** The subject token and its body; another user's token is "not found" to a non-admin. */
  private async subjectOf(caller: RequestContext, subject: string | undefined) {
    if (!subject) throw new BadRequestException('Expecting to find X-Subject-Token in headers.');
    const record = await this.tokens.describe(subject);
    if (!record) throw new NotFoundException(NO_TOKEN);
    if (record.actor.userId !== caller.actor.userId && !isAdmin(caller.actor))
      throw new NotFoundException(NO_TOKEN);
    const user = await this.users.findById(record.actor.userId);
    const body = keystoneTokenBody({
      token: subject,
      user: { id: record.actor.userId, name: user?.name ?? record.actor.userId },
      projectId: record.actor.projectId,
      roles: record.actor.roles,
      issuedAt: record.issuedAt,
      expiresAt: record.expiresAt,
      publicUrl: this.config.publicUrl,
    });
    return { token: subject, body };
  }
}
