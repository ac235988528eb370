/**
 * The little XML this store needs: rendering S3 response documents and reading the two small
 * request bodies S3 clients send (DeleteObjects, PutBucketVersioning). Hand-written on purpose:
 * no dependency, and S3's request documents are flat enough for a regular expression.
 */

/** The namespace S3 puts on every response document. */
export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** Escapes text for an XML element body (also quotes, as S3 does for ETags; control characters as numeric references). */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      default:
        return `&#x${c.charCodeAt(0).toString(16)};`;
    }
  });
}

/** Resolves the five predefined entities and numeric character references. */
export function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_m, entity: string) => {
    switch (entity) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(
          entity.startsWith('#x') ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10),
        );
    }
  });
}

/** `<name>escaped value</name>`; `undefined` renders nothing. */
export function xmlText(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** `<name>children</name>` where children are already-rendered XML fragments. */
export function xmlNode(name: string, children: readonly string[], xmlns?: string): string {
  const open = xmlns === undefined ? name : `${name} xmlns="${xmlns}"`;
  return children.length === 0 ? `<${open}/>` : `<${open}>${children.join('')}</${name}>`;
}

/** A complete response document: declaration plus a root element in the S3 namespace (`null`: none). */
export function xmlDocument(root: string, children: readonly string[], xmlns: string | null = S3_XMLNS): string {
  return XML_DECLARATION + xmlNode(root, children, xmlns ?? undefined);
}

/**
 * The raw (still escaped) inner XML of every `<tag>` element, in document order. Good for the flat,
 * non-recursive documents S3 clients send; a self-closing `<tag/>` yields an empty string.
 */
export function xmlElements(xml: string, tag: string): string[] {
  const pattern = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}\\s*>)`, 'g');
  return Array.from(xml.matchAll(pattern), (m) => m[1] ?? '');
}

/** The unescaped text of the first `<tag>` element, or `undefined` when there is none. */
export function xmlFirstText(xml: string, tag: string): string | undefined {
  const [first] = xmlElements(xml, tag);
  return first === undefined ? undefined : unescapeXml(first);
}

/** The canonical user every bucket and object of the in-memory store belongs to. */
export const STORE_OWNER = { id: '75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a', name: 'memory' };

/** `<Owner><ID>..</ID><DisplayName>..</DisplayName></Owner>` for {@link STORE_OWNER}. */
export function ownerXml(): string {
  return xmlNode('Owner', [xmlText('ID', STORE_OWNER.id), xmlText('DisplayName', STORE_OWNER.name)]);
}
