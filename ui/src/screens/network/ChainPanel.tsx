import { ErrorAlert } from '../../components/ErrorAlert';
import { chainHealth, chainName } from '../../logic/network';
import { useChainStatus } from '../../state/market';

const HEALTH_TEXT = {
  connected: 'Connected',
  unreachable: 'Not reachable',
  unconfigured: 'Not configured',
} as const;

/** The chain node escrows settle on: configured or not, connected at which height, or why not. */
export function ChainPanel() {
  const chain = useChainStatus();
  return (
    <section className="panel" aria-labelledby="chain-title" data-testid="chain-status">
      <h2 id="chain-title">Chain backend</h2>
      {chain.isPending ? (
        <p role="status" className="muted">
          Asking the chain node…
        </p>
      ) : chain.isError && !chain.data ? (
        <ErrorAlert error={chain.error}>
          <button type="button" className="button button--small" onClick={() => void chain.refetch()}>
            Try again
          </button>
        </ErrorAlert>
      ) : !chain.data.configured ? (
        <p className="muted" data-testid="chain-health" data-health="unconfigured">
          No chain backend configured, so escrow trades cannot settle here. Name a Bitcoin Core or Litecoin Core node
          (pruned is fine, no transaction index needed) in <code>[chain]</code> of <code>souk.toml</code>, or start with{' '}
          <code>--rpc-url</code>.
        </p>
      ) : (
        <>
          <dl className="details details--compact" aria-label="Chain backend">
            <div>
              <dt>Chain</dt>
              <dd>{chainName(chain.data)}</dd>
            </div>
            <div>
              <dt>Status</dt>
              <dd data-testid="chain-health" data-health={chainHealth(chain.data)}>
                {HEALTH_TEXT[chainHealth(chain.data)]}
              </dd>
            </div>
            <div>
              <dt>Tip height</dt>
              <dd className="num" data-testid="chain-tip">
                {chain.data.tip_height ?? '—'}
              </dd>
            </div>
            <div>
              <dt>Confirmations required</dt>
              <dd className="num">{chain.data.confirmations}</dd>
            </div>
            <div>
              <dt>{/^(tcp|ssl):\/\//.test(chain.data.rpc_url ?? '') ? 'Electrum server' : 'RPC URL'}</dt>
              <dd>
                <code className="mono-wrap">{chain.data.rpc_url}</code>
              </dd>
            </div>
          </dl>
          {chain.data.error ? (
            <div className="alert" role="status" data-testid="chain-error">
              <p className="alert-text chain-error">{chain.data.error}</p>
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}
