import { CardScreen } from '../components/CardScreen';

export function NoBackend() {
  return (
    <CardScreen testId="no-backend">
      <h1>Backend not available</h1>
      <p>
        Souk&apos;s window backend is not available in this browser; run <code>souk serve</code>.
      </p>
      <p className="lead">Or start the Souk desktop app, which includes everything it needs.</p>
    </CardScreen>
  );
}
