import { expect } from 'chai';
import { BoundedMap } from '../lib/bounded-map.js';

const always = () => true;

describe('BoundedMap', () => {
  describe('makeRoom', () => {
    it('should drop the oldest entries first once the map holds max', () => {
      const map = new BoundedMap<string, number>();
      for (const key of ['a', 'b', 'c', 'd']) {
        map.makeRoom(3, always);
        map.set(key, 1);
      }
      expect(map.size).to.equal(3);
      expect(['a', 'b', 'c', 'd'].filter((key) => map.has(key))).to.deep.equal(['b', 'c', 'd']);
    });

    it('should treat a key set again as the newest', () => {
      const map = new BoundedMap<string, number>();
      map.set('a', 1);
      map.set('b', 2);
      map.set('a', 3);
      map.makeRoom(2, always);
      map.set('c', 4);
      expect(map.has('b')).to.equal(false);
      expect(map.get('a')).to.equal(3);
      expect(map.get('c')).to.equal(4);
    });

    it('should drop entries that are no longer live up to the first live one, even below max', () => {
      const map = new BoundedMap<string, number>();
      map.set('old-1', 1);
      map.set('old-2', 2);
      map.set('live', 10);
      map.set('old-3', 3);
      map.makeRoom(100, (value) => value >= 10);
      expect(['old-1', 'old-2', 'live', 'old-3'].filter((key) => map.has(key))).to.deep.equal(['live', 'old-3']);
    });

    it('should not count an entry deleted by its owner, nor drop the entry set in its place later', () => {
      const map = new BoundedMap<string, number>();
      map.set('a', 1);
      map.set('b', 2);
      map.delete('a');
      map.set('c', 3);
      map.set('a', 4);
      map.makeRoom(3, always);
      map.set('d', 5);
      expect(['a', 'b', 'c', 'd'].filter((key) => map.has(key))).to.deep.equal(['a', 'c', 'd']);
      expect(map.get('a')).to.equal(4);
    });

    it('should hold on to no more than about twice its entries when entries are deleted behind a live oldest one', () => {
      const map = new BoundedMap<string, number>();
      map.set('oldest, still live', 1);
      for (let i = 0; i < 100_000; i++) {
        map.makeRoom(10, always);
        map.set('retried', i);
        map.delete('retried');
      }
      expect(map.size).to.equal(1);
      expect(map.tracked).to.be.at.most(2 * map.size + 1025);
      map.makeRoom(10, always);
      map.set('next', 2);
      expect(['oldest, still live', 'next'].filter((key) => map.has(key))).to.deep.equal([
        'oldest, still live',
        'next',
      ]);
    });

    it('should keep oldest-first order across many writes, holding exactly max entries', () => {
      const map = new BoundedMap<number, number>();
      for (let i = 0; i < 25_000; i++) {
        map.makeRoom(1000, always);
        map.set(i, i);
      }
      expect(map.size).to.equal(1000);
      const kept = Array.from({ length: 25_000 }, (_, i) => i).filter((i) => map.has(i));
      expect(kept[0]).to.equal(24_000);
      expect(kept.at(-1)).to.equal(24_999);
      expect(kept).to.have.length(1000);
    });
  });
});
