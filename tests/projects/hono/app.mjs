// A Hono app that serves the token endpoint (token, metadata, JWKS) by handing
// the raw Request to endpoint.handle, and an API route that accepts the
// access tokens it issues.
import { Hono } from 'hono';
import { AccessTokenError, verifyAccessToken } from 'assertion-grant';

export function createApp(endpoint, { issuer, audience }) {
  const app = new Hono();
  // all(): the endpoint answers other methods itself (405 with Allow).
  app.all('/token', (c) => endpoint.handle(c.req.raw));
  app.all('/.well-known/*', (c) => endpoint.handle(c.req.raw));
  app.get('/api/me', async (c) => {
    try {
      const { claims } = await verifyAccessToken(c.req.raw, { issuer, audience, jwks: endpoint.jwks() });
      return c.json({ sub: claims.sub, scope: claims.scope, client_id: claims.client_id });
    } catch (err) {
      if (err instanceof AccessTokenError) return err.response();
      throw err;
    }
  });
  return app;
}
