import { describe, expect, it } from 'vitest';
import { qrSvgDataUrl } from './qr';

describe('qrSvgDataUrl', () => {
  it('draws the code as one SVG path in a data: URL', () => {
    const url = qrSvgDataUrl('litecoin:rltc1qexample?amount=0.05');
    expect(url).toMatch(/^data:image\/svg\+xml;charset=utf-8,/);
    const svg = decodeURIComponent(url.slice(url.indexOf(',') + 1));
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 (\d+) \1"/);
    expect(svg).not.toMatch(/<script|style=/);
    // A version-3 code: 29 modules and a 2-module margin; finder patterns make the corner dark.
    expect(svg).toContain('viewBox="0 0 33 33"');
    expect(svg).toContain('M2 2h1v1h-1z');
    expect(qrSvgDataUrl('other')).not.toBe(url);
  });
});
