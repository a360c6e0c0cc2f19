// node-oidc-provider (npm `oidc-provider`, installed by bench/peers.sh into
// bench/.peers/) set up as bench/peers.sh compares it with Tessera: one
// confidential client (HTTP Basic) allowed client_credentials, opaque access
// tokens (no resource indicator), RFC 7662 introspection at
// /token/introspection, its default in-memory adapter and settings otherwise.
// One Node process (Node is single-threaded; that is how the package runs
// unless one adds a cluster in front).
//   node peer-oidc.mjs PORT CLIENT_ID CLIENT_SECRET
import Provider from 'oidc-provider';

const [port, clientId, clientSecret] = process.argv.slice(2);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'api',
  }],
  scopes: ['api'],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
  },
});
// Quiet: no per-request logging; errors still reach stderr.
provider.on('server_error', (ctx, err) => console.error(err));
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`peer listening on http://127.0.0.1:${port}`);
});
