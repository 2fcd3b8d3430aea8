import { expect } from 'chai';
import { startTestApp, type TestApp } from './support/app.js';
import { browse, CookieJar } from './support/http.js';
import { ZignSecStub } from './support/zignsec-stub.js';

describe('smoke', () => {
  let stub: ZignSecStub;
  let app: TestApp;
  before(async () => {
    stub = await new ZignSecStub().start();
    app = await startTestApp({ strategy: { baseURL: stub.url, apiKey: stub.apiKey } });
  });
  after(async () => {
    await app.close();
    await stub.close();
  });
  it('should log in end to end', async () => {
    const jar = new CookieJar();
    const start = await browse(`${app.url}/login`, jar);
    expect(start.status, start.body).to.equal(302);
    const rs = stub.lastRelayState();
    const cb = await browse(`${app.url}/callback?relaystate=${rs}`, jar);
    expect(cb.location).to.equal('/me');
    const me = await browse(`${app.url}/me`, jar);
    expect(JSON.parse(me.body).id).to.equal('1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9');
    const again = await browse(`${app.url}/callback?relaystate=${rs}`, jar);
    expect(again.location).to.equal('/failed');
  });
});
