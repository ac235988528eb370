/**
 * S3 lists keys in ascending order of their UTF-8 bytes. Comparing Unicode code points gives the
 * same order without encoding (JavaScript's `<` compares UTF-16 code units, which differs for
 * characters above U+FFFF against U+E000..U+FFFF).
 */
export function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
