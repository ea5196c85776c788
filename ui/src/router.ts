import { useEffect, useState } from 'preact/hooks';

/** The page's places, kept in the URL's fragment so that reload and back work. */
export type Place =
  | { name: 'instances' }
  | { name: 'instance'; id: string }
  | { name: 'image'; id: string }
  | { name: 'audit'; query: URLSearchParams }
  | { name: 'log' };

export function placeOf(hash: string): Place {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?', 2);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'instances' && parts[1]) return { name: 'instance', id: parts[1] };
  if (parts[0] === 'images' && parts[1]) return { name: 'image', id: parts[1] };
  if (parts[0] === 'audit') return { name: 'audit', query: new URLSearchParams(query) };
  if (parts[0] === 'log') return { name: 'log' };
  return { name: 'instances' };
}

export const hrefOf = {
  instances: () => '#/instances',
  instance: (id: string) => `#/instances/${encodeURIComponent(id)}`,
  image: (id: string) => `#/images/${encodeURIComponent(id)}`,
  audit: (query?: URLSearchParams) => {
    const text = query?.toString() ?? '';
    return text === '' ? '#/audit' : `#/audit?${text}`;
  },
  log: () => '#/log',
};

export function usePlace(): Place {
  const [place, setPlace] = useState(() => placeOf(location.hash));
  useEffect(() => {
    const onChange = () => setPlace(placeOf(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return place;
}
