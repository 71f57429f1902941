import qrcode from 'qrcode-generator';

/**
 * A QR code as an SVG data: URL, drawn from the code's module matrix (one path, no script, no inline
 * style, so the CSP holds). qrcode-generator is used for the matrix only: its own renderers assign
 * `toString` on plain objects, which throws under Tauri's frozen prototypes.
 */
export function qrSvgDataUrl(text: string, margin = 2): string {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const count = qr.getModuleCount();
  const size = count + margin * 2;
  let path = '';
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (qr.isDark(row, col)) path += `M${(col + margin).toString()} ${(row + margin).toString()}h1v1h-1z`;
    }
  }
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size.toString()} ${size.toString()}" shape-rendering="crispEdges">` +
    `<rect width="100%" height="100%" fill="#fff"/><path d="${path}" fill="#000"/></svg>`;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}
