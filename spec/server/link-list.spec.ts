/**
 * LinkList: the registry's and the limits' collection of sockets (no hash
 * table: link-list.ts says why). Insertion order, O(1) removal by Link, and
 * iteration that survives removals made while walking.
 */
import { expect } from 'chai';
import { LinkList } from '../../lib/server/link-list.js';

describe('LinkList', () => {
  it('keeps insertion order; removes from the head, the middle and the tail; size follows', () => {
    const l = new LinkList<string>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((v) => l.add(v));
    expect([...l]).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(l.size).to.equal(4);
    l.remove(b!);
    expect([...l]).to.deep.equal(['a', 'c', 'd']);
    l.remove(a!);
    expect(l.first()).to.equal('c');
    l.remove(d!);
    expect([...l]).to.deep.equal(['c']);
    l.add('e');
    expect([...l]).to.deep.equal(['c', 'e']);
    l.remove(c!);
    expect(l.first()).to.equal('e');
    expect(l.size).to.equal(1);
  });

  it('a removed link holds no neighbour and a second removal changes nothing; a link of another list is ignored', () => {
    const l = new LinkList<number>();
    const other = new LinkList<number>();
    const x = l.add(1);
    l.add(2);
    const y = other.add(3);
    l.remove(x);
    expect([x.prev, x.next, x.list]).to.deep.equal([undefined, undefined, undefined]);
    l.remove(x);
    l.remove(y);
    expect([...l]).to.deep.equal([2]);
    expect(l.size).to.equal(1);
    expect([...other]).to.deep.equal([3]);
  });

  it('walking it while removing every value (as close() does through the sockets\' close) visits each once', () => {
    const l = new LinkList<{ id: number; link?: ReturnType<LinkList<unknown>['add']> }>();
    const items = Array.from({ length: 5 }, (_, id) => ({ id }) as { id: number; link?: ReturnType<LinkList<unknown>['add']> });
    for (const it of items) it.link = l.add(it);
    const seen: number[] = [];
    for (const it of l) {
      seen.push(it.id);
      for (const other of items) l.remove(other.link! as never);
    }
    expect(seen).to.deep.equal([0, 1, 2, 3, 4]);
    expect(l.size).to.equal(0);
    expect(l.first()).to.equal(undefined);
  });
});
