import { useMemo } from 'react';
import { qrSvgDataUrl } from '../logic/qr';

interface QrCodeProps {
  /** What the code encodes, e.g. a payment URI. */
  value: string;
  /** Accessible description of the image. */
  label: string;
}

/** A QR code as an SVG image from a data: URL, in a fixed-size box so it never moves the layout. */
export function QrCode({ value, label }: QrCodeProps) {
  const url = useMemo(() => qrSvgDataUrl(value), [value]);
  return (
    <div className="qr-code">
      <img src={url} alt={label} width={160} height={160} data-qr-value={value} />
    </div>
  );
}
