/** Which API family a path belongs to; each has its own error body shape. */
export type ApiFamily = 'nova' | 'glance' | 'keystone' | 'native';

export function apiFamilyOf(path: string): ApiFamily {
  if (path === '/v2.1' || path.startsWith('/v2.1/')) return 'nova';
  if (path === '/v2' || path.startsWith('/v2/')) return 'glance';
  if (path === '/identity' || path.startsWith('/identity/')) return 'keystone';
  // The image API is served under /image as well (see image-prefix.middleware.ts).
  if (path === '/image' || path.startsWith('/image/')) return 'glance';
  return 'native';
}

/** Nova's fault names by status (nova/api/openstack/wsgi.py Fault). */
const NOVA_FAULT_NAMES: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  406: 'notAcceptable',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The reason phrase of an error status, as the error bodies give it. */
export function errorTitle(status: number): string {
  return TITLES[status] ?? 'Error';
}

export function errorBody(family: ApiFamily, status: number, message: string): unknown {
  const title = errorTitle(status);
  switch (family) {
    case 'nova':
      return { [NOVA_FAULT_NAMES[status] ?? 'computeFault']: { message, code: status } };
    case 'glance':
      return { code: `${status} ${title}`, title, message };
    // Keystone's error body has the same shape as the native one.
    case 'keystone':
    case 'native':
      return { error: { code: status, title, message } };
  }
}
