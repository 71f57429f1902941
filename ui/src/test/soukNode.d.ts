// What Vitest's global setup (`vitest.souk-node.ts`) hands the contract test: a real `souk node`'s API.
import 'vitest';

export interface SoukNode {
  url: string;
  token: string;
  passphrase: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** A running `souk node`, or null when SOUK_CLI_BIN names no binary. */
    soukNode: SoukNode | null;
    /** SOUK_CONTRACT=required: a missing node fails the run instead of skipping the scenarios. */
    soukNodeRequired: boolean;
  }
}
