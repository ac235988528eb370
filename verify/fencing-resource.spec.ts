import { request } from 'node:http';
import { FencedRegister, FencingResource } from './fencing-resource';

describe('FencedRegister', () => {
  it('accepts equal or higher tokens and rejects lower ones, per name', () => {
    const r = new FencedRegister();
    expect(r.write('a', 3)).toEqual({ accepted: true, highest: 3 });
    expect(r.write('a', 3)).toEqual({ accepted: true, highest: 3 });
    expect(r.write('a', 2)).toEqual({ accepted: false, highest: 3 });
    expect(r.write('b', 1)).toEqual({ accepted: true, highest: 1 });
    expect(r.write('a', 7)).toEqual({ accepted: true, highest: 7 });
    expect(r.stats()).toEqual({ accepted: 4, rejected: 1, byName: { a: { accepted: 3, rejected: 1, highest: 7 }, b: { accepted: 1, rejected: 0, highest: 1 } } });
  });
});

describe('FencingResource', () => {
  it('serves POST /write and answers 409 for a stale token', async () => {
    const resource = await FencingResource.start();
    const post = (path: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const req = request(`${resource.url}${path}`, { method: 'POST' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await post('/write?name=x&token=5')).toEqual({ status: 200, body: '{"accepted":true,"highest":5}' });
      expect(await post('/write?name=x&token=4')).toEqual({ status: 409, body: '{"accepted":false,"highest":5}' });
      expect((await post('/write?name=x')).status).toBe(400);
      expect(resource.register.stats()).toMatchObject({ accepted: 1, rejected: 1 });
    } finally {
      await resource.close();
    }
  });
});
