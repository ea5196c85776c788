import express, { type Request } from 'express';
import { describe, expect, it } from 'vitest';
import { glanceErrorBody, glanceErrorType } from '../../src/api/error-response';

/** A request with only an Accept header (Express's own request methods, no socket). */
function requestAccepting(accept: string | undefined): Request {
  const req = Object.create(express.request) as Request;
  Object.defineProperty(req, 'headers', {
    value: accept === undefined ? {} : { accept },
  });
  return req;
}

describe('glanceErrorType (WebOb: HTML, then JSON, to the Accept header)', () => {
  it('answers HTML to */* and to clients that take HTML, as Glance does', () => {
    for (const accept of ['*/*', 'text/html', 'text/*', 'text/html, application/json'])
      expect(glanceErrorType(requestAccepting(accept)), accept).toBe('text/html');
  });

  it('answers JSON to clients that ask for it', () => {
    for (const accept of [
      'application/json',
      'application/*',
      '*/*;q=0.1, application/json',
      'text/html;q=0.5, application/json',
    ])
      expect(glanceErrorType(requestAccepting(accept)), accept).toBe('application/json');
  });

  it('answers plain text with no Accept header, or one that takes neither', () => {
    for (const accept of [undefined, '', '  ', 'text/plain', 'application/xml'])
      expect(glanceErrorType(requestAccepting(accept)), String(accept)).toBe('text/plain');
  });
});

describe('glanceErrorBody', () => {
  it('gives the status line twice and the message escaped in HTML', () => {
    const html = glanceErrorBody('text/html', 404, 'No image found with ID <x>&"y"');
    expect(html).toContain('<title>404 Not Found</title>');
    expect(html).toContain('<h1>404 Not Found</h1>');
    expect(html).toContain('No image found with ID &#60;x&#62;&#38;&#34;y&#34;<br /><br />');
    expect(html).not.toContain('<x>');
  });

  it("keeps Glance's JSON shape, and a plain-text status line then the message", () => {
    expect(JSON.parse(glanceErrorBody('application/json', 400, 'bad'))).toEqual({
      code: '400 Bad Request',
      title: 'Bad Request',
      message: 'bad',
    });
    expect(glanceErrorBody('text/plain', 409, 'busy')).toBe('409 Conflict\n\nbusy\n');
  });
});
