import type { INestApplication, Type } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { PUBLIC_ROUTE } from '../auth/auth.guard';
import { tagAndSecureOperations } from './openapi-tags';

/** The security scheme's name in the document: OpenStack's X-Auth-Token header. */
export const AUTH_SCHEME = 'X-Auth-Token';

const operationId = (controller: string, method: string) => `${controller}_${method}`;

/** operationIds of the handlers marked @Public(), on the handler or its controller. */
function publicOperationIds(app: INestApplication): Set<string> {
  const ids = new Set<string>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const type = wrapper.metatype as Type<unknown> | null;
      if (!type?.prototype) continue;
      const controllerPublic = Reflect.getMetadata(PUBLIC_ROUTE, type) === true;
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        if (name === 'constructor') continue;
        const handler = (type.prototype as Record<string, unknown>)[name];
        if (typeof handler !== 'function') continue;
        if (controllerPublic || Reflect.getMetadata(PUBLIC_ROUTE, handler) === true)
          ids.add(operationId(type.name, name));
      }
    }
  }
  return ids;
}

/**
 * The OpenAPI 3 document of every REST route, generated from the controllers at start-up
 * (@nestjs/swagger). Every operation needs the X-Auth-Token apiKey unless it is public;
 * operations are tagged by API family unless their controller names a tag.
 */
export function buildOpenApiDocument(app: INestApplication, version = '1.0'): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('snapledger')
    .setDescription(
      'Event-sourced, Nova-compatible snapshots of libvirt/QEMU virtual machines: a Nova ' +
        'compute subset under /v2.1, a Glance image subset under /v2, native routes under /v1.',
    )
    .setVersion(version)
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-Auth-Token',
        description: 'An API token (`snapledger token create`)',
      },
      AUTH_SCHEME,
    )
    .addSecurityRequirements(AUTH_SCHEME)
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    autoTagControllers: false,
    operationIdFactory: operationId,
  });
  return tagAndSecureOperations(document, publicOperationIds(app));
}

/** Holds the document built at start-up, for the controller that serves it. */
export class OpenApiDocumentHolder {
  document: OpenAPIObject | null = null;
}
