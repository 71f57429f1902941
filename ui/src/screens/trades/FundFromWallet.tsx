import { useState } from 'react';
import { useBackend } from '../../backend/context';
import type { TradeInfo, WalletFunding } from '../../bindings';
import { CopyButton } from '../../components/CopyButton';
import { ErrorAlert } from '../../components/ErrorAlert';
import { formatAmount } from '../../logic/amount';

/**
 * "Fund from my node's wallet": the core builds the payment from a wallet of the user's chain node (the
 * amount still owed, the fee at the chain's rate), the user sees both and confirms, then the wallet signs
 * and the core broadcasts. The unsigned PSBT can be copied or saved instead, for Sparrow, Electrum or a
 * hardware wallet. Nothing is sent before the confirmation.
 */
export function FundFromWallet({ trade }: { trade: TradeInfo }) {
  const backend = useBackend();
  const [wallet, setWallet] = useState('');
  const [plan, setPlan] = useState<WalletFunding | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const coins = (units: number) => `${formatAmount(units, trade.offer.base)} ${trade.offer.base}`;

  const run = async (broadcast: boolean) => {
    setBusy(true);
    setError(null);
    try {
      setPlan(await backend.fundFromWallet(trade.id, wallet.trim(), broadcast));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const savePsbt = (psbt: string) => {
    const url = URL.createObjectURL(new Blob([psbt], { type: 'text/plain' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `souk-funding-${trade.id}.psbt`;
    link.click();
    URL.revokeObjectURL(url);
  };

  return (
    <section className="fund-from-wallet" aria-label="Fund from my node's wallet" data-testid="fund-from-wallet">
      <form
        className="details-row"
        onSubmit={(event) => {
          event.preventDefault();
          void run(false);
        }}
      >
        <label>
          Fund from my node’s wallet{' '}
          <input
            type="text"
            value={wallet}
            placeholder="wallet name"
            aria-label="Wallet of your chain node"
            onChange={(event) => {
              setWallet(event.target.value);
              setPlan(null);
            }}
          />
        </label>
        <button type="submit" className="button button--small" disabled={busy || wallet.trim() === ''}>
          Prepare
        </button>
      </form>
      {error ? <ErrorAlert error={error} /> : null}
      {plan ? (
        <div data-testid="funding-plan">
          {plan.txid ? (
            <p data-testid="funding-sent">
              Sent <strong className="num">{coins(plan.amount)}</strong> from wallet {plan.wallet}, fee{' '}
              <span className="num">{coins(plan.fee)}</span>: <code className="mono-wrap">{plan.txid}</code>
            </p>
          ) : (
            <>
              <p data-testid="funding-summary">
                Send <strong className="num">{coins(plan.amount)}</strong> to {plan.address} from wallet {plan.wallet}, fee{' '}
                <span className="num">{coins(plan.fee)}</span>.
              </p>
              <div className="details-row">
                <button type="button" className="button button--small" disabled={busy} onClick={() => void run(true)}>
                  Confirm and send
                </button>
                <CopyButton text={plan.psbt} label="Copy the unsigned PSBT" />
                <button type="button" className="button button--small" onClick={() => savePsbt(plan.psbt)}>
                  Save PSBT
                </button>
              </div>
            </>
          )}
        </div>
      ) : null}
    </section>
  );
}
