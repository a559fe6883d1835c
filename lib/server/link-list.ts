/**
 * An insertion-ordered collection without a hash table: adding a value gives
 * its Link, which the caller keeps (on whatever owns the value) and hands back
 * to remove it, in O(1).
 *
 * Why not a Set or a Map keyed by the socket: measured, four such
 * collections per connection made each scavenge promote 1.6 MB and take
 * 8 ms at 4,000 connections/s, against 0.15 MB and 1 ms without them, each
 * collection adding its part (docs/performance.md, "Round three, late").
 * Why exactly is not traced: a synthetic loop with a Set of plain objects
 * does not show it, so it takes what sockets are (native handles, weak
 * references) together with hash tables that outlive them in the old
 * generation; the lists keep no reference to a socket once it is out.
 */
export interface Link<T> {
  readonly value: T;
  prev: Link<T> | undefined;
  next: Link<T> | undefined;
  /** The list it is in; undefined once removed. */
  list: LinkList<T> | undefined;
}

export class LinkList<T> implements Iterable<T> {
  private head: Link<T> | undefined;
  private tail: Link<T> | undefined;
  size = 0;

  add(value: T): Link<T> {
    const link: Link<T> = { value, prev: this.tail, next: undefined, list: this };
    if (this.tail) this.tail.next = link;
    else this.head = link;
    this.tail = link;
    this.size++;
    return link;
  }

  /** Takes `link` out (nothing if it is not in this list): neither neighbour nor the link keeps a pointer to the other. */
  remove(link: Link<T>): void {
    if (link.list !== this) return;
    if (link.prev) link.prev.next = link.next;
    else this.head = link.next;
    if (link.next) link.next.prev = link.prev;
    else this.tail = link.prev;
    link.prev = link.next = undefined;
    link.list = undefined;
    this.size--;
  }

  /** The oldest value still in the list. */
  first(): T | undefined {
    return this.head?.value;
  }

  /** The values in insertion order, as an array: callers may remove (or close) while they walk it. */
  values(): T[] {
    const out: T[] = [];
    for (let l = this.head; l; l = l.next) out.push(l.value);
    return out;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.values()[Symbol.iterator]();
  }
}
