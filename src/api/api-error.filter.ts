import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from '@nestjs/common';
import type { Response } from 'express';
import {
  ActionForbiddenError,
  ImageNotFoundError,
  InstanceInvalidStateError,
  InstanceNotFoundError,
  InvalidTransitionError,
  PolicyForbiddenError,
  QuotaExceededError,
  ValidationError,
} from '../domain/domain-errors';
import { TransientHypervisorError } from '../drivers/hypervisor.port';
import { ImageDataUnavailableError } from '../drivers/image-store.port';
import { WrongExpectedRevisionError } from '../event-store/event-store.port';
import { sendApiError } from './error-response';
import { graphQLErrorFor } from './graphql/graphql-errors';
import { GraphQLError } from './graphql/graphql-runtime';
import type { SnapledgerRequest } from './request-context.middleware';

export interface ErrorLogger {
  error(obj: object, msg?: string): void;
}

/** body-parser's errors carry a `type` and a `status`. */
interface BodyParserError {
  type?: string;
  status?: number;
  message: string;
}

/** Maps a thrown error to a status and a message the caller may see. */
export function classify(error: unknown): { status: number; message: string } {
  // Nest wraps body-parser's errors in an HttpException whose cause is the original.
  const parser = (
    error instanceof HttpException && error.cause ? error.cause : error
  ) as BodyParserError;
  if (
    parser &&
    typeof parser.type === 'string' &&
    typeof parser.status === 'number' &&
    parser.status < 500
  ) {
    if (parser.type === 'entity.parse.failed')
      return { status: 400, message: 'Malformed request body' };
    if (parser.type === 'entity.too.large')
      return { status: 413, message: 'Request body is too large' };
    return { status: parser.status, message: parser.message };
  }
  if (error instanceof ValidationError) return { status: 400, message: error.message };
  if (
    error instanceof QuotaExceededError ||
    error instanceof PolicyForbiddenError ||
    error instanceof ActionForbiddenError
  ) {
    return { status: 403, message: error.message };
  }
  if (error instanceof InstanceNotFoundError || error instanceof ImageNotFoundError) {
    return { status: 404, message: error.message };
  }
  if (error instanceof InstanceInvalidStateError) return { status: 409, message: error.message };
  if (error instanceof WrongExpectedRevisionError || error instanceof InvalidTransitionError) {
    return {
      status: 409,
      message: 'The resource changed while the request was handled; try again.',
    };
  }
  if (error instanceof ImageDataUnavailableError) {
    return { status: 503, message: `The image data cannot be read right now: ${error.message}` };
  }
  if (error instanceof TransientHypervisorError) {
    return { status: 503, message: `The hypervisor is not available right now: ${error.message}` };
  }
  if (error instanceof HttpException) {
    const response = error.getResponse();
    const message =
      typeof response === 'string'
        ? response
        : typeof (response as { message?: unknown }).message === 'string'
          ? (response as { message: string }).message
          : error.message;
    return { status: error.getStatus(), message };
  }
  return { status: 500, message: 'An unexpected error occurred; it has been logged.' };
}

/** Every error leaves in the body shape of its API family: Nova, Glance or native. */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: ErrorLogger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    // A resolver's error goes back to GraphQL, which puts it in the response's `errors`.
    if (host.getType<string>() === 'graphql') throw this.forGraphQL(error);
    const http = host.switchToHttp();
    const req = http.getRequest<SnapledgerRequest>();
    const res = http.getResponse<Response>();
    const { status, message } = classify(error);
    if (status >= 500)
      this.logger.error({ err: error, path: req.path, requestId: req.requestId }, 'request failed');
    if (res.headersSent) return;
    sendApiError(req, res, status, message);
  }

  /** The same classification as REST, as a GraphQL error; GraphQL's own errors pass through. */
  private forGraphQL(error: unknown): unknown {
    if (error instanceof GraphQLError) return error;
    const { status, message } = classify(error);
    if (status >= 500) this.logger.error({ err: error, api: 'graphql' }, 'resolver failed');
    return graphQLErrorFor(status, message);
  }
}
