import { useId } from 'react';

interface TorChoiceProps {
  checked: boolean;
  onChange: (tor: boolean) => void;
  disabled: boolean;
}

/**
 * Tor mode chosen on first run: the node saves it and already starts through Tor right after set-up
 * (Settings → Bootstrap peers changes it later).
 */
export function TorChoice({ checked, onChange, disabled }: TorChoiceProps) {
  const hintId = useId();
  return (
    <label className="checkbox checkbox--described">
      <input
        type="checkbox"
        name="tor"
        checked={checked}
        disabled={disabled}
        aria-describedby={hintId}
        onChange={(event) => onChange(event.target.checked)}
      />
      <span>
        Connect only through Tor
        <span className="field-hint" id={hintId}>
          Hides your IP address from other traders; starting takes longer and needs Tor installed (Debian:{' '}
          <code>apt install tor</code>), and you can change this later in Settings.
        </span>
      </span>
    </label>
  );
}
