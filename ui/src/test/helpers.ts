import { screen } from '@testing-library/react';
import type { UserEvent } from '@testing-library/user-event';

/** Fills the passphrase + confirmation fields shared by create and restore. */
export async function fillPassphrases(user: UserEvent, passphrase: string, confirm = passphrase) {
  const first = screen.getByLabelText('Passphrase');
  const second = screen.getByLabelText('Confirm passphrase');
  await user.clear(first);
  if (passphrase) await user.type(first, passphrase);
  await user.clear(second);
  if (confirm) await user.type(second, confirm);
}

/** The zero-based positions the confirmation screen asks for, read from its labels. */
export function askedWordIndices(): number[] {
  return screen.getAllByLabelText(/^Word #\d+$/).map((input) => {
    const id = input.getAttribute('id');
    const label = document.querySelector(`label[for="${id ?? ''}"]`);
    const match = /#(\d+)/.exec(label?.textContent ?? '');
    if (!match?.[1]) throw new Error('unlabelled confirmation field');
    return Number(match[1]) - 1;
  });
}
