import { CardScreen } from '../components/CardScreen';

export function NoBackend() {
  return (
    <CardScreen testId="no-backend">
      <h1>Backend not available</h1>
      <p>
        This page has no connection to a Souk node. Run <code>souk serve</code> and open the address it
        prints (it carries the access token), or reopen that address if this tab lost it.
      </p>
      <p className="lead">Or start the Souk desktop app, which includes everything it needs.</p>
    </CardScreen>
  );
}
