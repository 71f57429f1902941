import { useEffect, useState } from 'react';
import QRCode from 'qrcode';

interface QrCodeProps {
  /** What the code encodes, e.g. a payment URI. */
  value: string;
  /** Accessible description of the image. */
  label: string;
}

/**
 * A QR code as an SVG image from a data: URL (no inline script or style, so the CSP holds). The box has
 * a fixed size, so the image arriving never moves the layout.
 */
export function QrCode({ value, label }: QrCodeProps) {
  const [svg, setSvg] = useState<{ value: string; url: string } | null>(null);
  useEffect(() => {
    let current = true;
    QRCode.toString(value, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
      .then((text) => {
        if (current) setSvg({ value, url: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}` });
      })
      .catch((thrown: unknown) => console.error('cannot draw the QR code', thrown));
    return () => {
      current = false;
    };
  }, [value]);
  return (
    <div className="qr-code">
      {svg?.value === value ? <img src={svg.url} alt={label} width={160} height={160} data-qr-value={value} /> : null}
    </div>
  );
}
