/**
 * The provenance types other modules name, apart from the code that implements them: naming a
 * keyring or a mode must not load OpenPGP (start-up cost; and the library's published types
 * stay free of openpgp's).
 */

/** ignore: no .prov; copy: carry and check without a key; verify: the signature must verify; require: verify, and every chart must be signed. */
export type ProvenanceMode = 'ignore' | 'copy' | 'verify' | 'require';

/** Public keys read once per run (loadKeyring), shared by concurrent checks; opaque outside chart/. */
export interface Keyring {
  readonly files: string[];
  readonly keyCount: number;
}
