export { parseWWWAuthenticate, type Challenge } from './challenge.js';
export { resolveCredential, credentialFiles, type Credential, type ConfigAuth, type ResolveOptions } from './credentials.js';
export {
  Authenticator,
  type AuthenticatorOptions,
  type AuthHttpResponse,
  type AuthRequest,
} from './authenticator.js';
export { repositoryScope, pushScopes, cleanScopes, parseScope, splitScopeParam } from './scope.js';
export { redactSecrets, registerSecret, knownSecrets } from '../../util/secrets.js';
