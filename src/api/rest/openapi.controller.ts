import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { RequestContext } from '../../domain/request-context';
import { Caller } from '../auth/request-context.decorator';
import { OpenApiDocumentHolder } from '../openapi/openapi-document';

/** The OpenAPI 3 document of this service's REST routes, for any authenticated caller. */
@ApiTags('operations')
@Controller()
export class OpenApiController {
  constructor(private readonly holder: OpenApiDocumentHolder) {}

  @Get('openapi.json')
  @ApiOperation({ summary: 'OpenAPI 3 document of the REST API' })
  document(@Caller() _caller: RequestContext): OpenAPIObject {
    if (!this.holder.document)
      throw new ServiceUnavailableException('The API document is not built yet.');
    return this.holder.document;
  }
}
