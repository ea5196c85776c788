import type { Request, Response } from 'express';
import { apiFamilyOf, errorBody, errorTitle } from './api-family';

/** The media types a Glance error can take, as Glance's WSGI layer (WebOb) renders them. */
export type GlanceErrorType = 'text/html' | 'application/json' | 'text/plain';

/**
 * How Glance answers an error: WebOb offers HTML, then JSON, to the request's Accept header.
 * `*` and anything that takes HTML get HTML; a client that asks for JSON gets JSON; a request
 * with no Accept header, or one that takes neither, gets plain text. The legacy `glance`
 * client sends `Accept: *` and reads HTML or text errors; it cannot read JSON ones.
 */
export function glanceErrorType(req: Request): GlanceErrorType {
  const accept = req.headers.accept;
  if (accept === undefined || accept.trim() === '') return 'text/plain';
  const chosen = req.accepts(['text/html', 'application/json']);
  return chosen === 'text/html' || chosen === 'application/json' ? chosen : 'text/plain';
}

/** Escapes text for HTML content and attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A Glance error body in the negotiated type: the same shape WebOb gives (the status line as
 * title and heading, then the message), so a client's parser for Glance's errors reads ours.
 */
export function glanceErrorBody(type: GlanceErrorType, status: number, message: string): string {
  const statusLine = `${status} ${errorTitle(status)}`;
  switch (type) {
    case 'application/json':
      return JSON.stringify(errorBody('glance', status, message));
    case 'text/html':
      return [
        '<html>',
        ' <head>',
        `  <title>${statusLine}</title>`,
        ' </head>',
        ' <body>',
        `  <h1>${statusLine}</h1>`,
        `  ${escapeHtml(message)}<br /><br />`,
        '',
        '',
        ' </body>',
        '</html>',
      ].join('\n');
    case 'text/plain':
      return `${statusLine}\n\n${message}\n`;
  }
}

/** Sends an error in its API family's shape; Glance's in the type the request accepts. */
export function sendApiError(req: Request, res: Response, status: number, message: string): void {
  const family = apiFamilyOf(req.path);
  if (family !== 'glance') {
    res.status(status).json(errorBody(family, status, message));
    return;
  }
  const type = glanceErrorType(req);
  res
    .status(status)
    .type(type === 'application/json' ? 'application/json' : `${type}; charset=utf-8`)
    .send(glanceErrorBody(type, status, message));
}
