import { XMLParser } from 'fast-xml-parser';

/**
 * libvirt's XML as fast-xml-parser's tree, and the few accessors the domain XML reader needs.
 * Every element parses to an array, so a repeated element and a single one read the same way;
 * attributes are kept as strings (a uuid or a path must never become a number).
 */
export type XmlNode = Record<string, unknown>;

const ATTR = '@_';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: ATTR,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (_name, _jpath, _isLeaf, isAttribute) => !isAttribute,
});

export function parseXmlTree(xml: string): XmlNode {
  return parser.parse(xml) as XmlNode;
}

export function children(node: unknown, name: string): XmlNode[] {
  if (!node || typeof node !== 'object') return [];
  const value = (node as XmlNode)[name];
  if (!Array.isArray(value)) return [];
  // A text-only element without attributes parses to a string: wrap it.
  return value.map((v) =>
    v !== null && typeof v === 'object' ? (v as XmlNode) : { '#text': String(v ?? '') },
  );
}

export function attr(node: unknown, name: string): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const value = (node as XmlNode)[ATTR + name];
  return value === undefined || value === null ? undefined : String(value);
}

export function text(node: unknown): string {
  if (node === undefined || node === null) return '';
  if (typeof node !== 'object') return String(node).trim();
  const value = (node as XmlNode)['#text'];
  return value === undefined || value === null ? '' : String(value).trim();
}

function elementNames(node: XmlNode): string[] {
  return Object.keys(node).filter((k) => !k.startsWith(ATTR) && k !== '#text');
}

/** Namespace scope: prefix ('' for the default namespace) → URI. */
export type NsScope = ReadonlyMap<string, string>;

function withDeclarations(node: XmlNode, parent: NsScope): NsScope {
  let scope: Map<string, string> | null = null;
  for (const key of Object.keys(node)) {
    if (!key.startsWith(ATTR)) continue;
    const attrName = key.slice(ATTR.length);
    let prefix: string | null = null;
    if (attrName === 'xmlns') prefix = '';
    else if (attrName.startsWith('xmlns:')) prefix = attrName.slice('xmlns:'.length);
    if (prefix === null) continue;
    scope ??= new Map(parent);
    scope.set(prefix, String(node[key]));
  }
  return scope ?? parent;
}

export interface NsElement {
  readonly node: XmlNode;
  readonly localName: string;
  readonly ns: string | undefined;
  readonly scope: NsScope;
}

/**
 * The child elements of `node`, with their local names and resolved namespace URIs: metadata
 * is matched by namespace URI, whatever prefix the writer chose.
 */
export function nsChildren(node: XmlNode, scope: NsScope): NsElement[] {
  const result: NsElement[] = [];
  for (const qname of elementNames(node)) {
    const colon = qname.indexOf(':');
    const prefix = colon >= 0 ? qname.slice(0, colon) : '';
    const localName = colon >= 0 ? qname.slice(colon + 1) : qname;
    for (const child of children(node, qname)) {
      const childScope = withDeclarations(child, scope);
      result.push({ node: child, localName, ns: childScope.get(prefix), scope: childScope });
    }
  }
  return result;
}
