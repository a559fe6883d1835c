/**
 * A typed EventEmitter: an interface mapping each event name to its listener
 * arguments, and EventEmitter seen through it, so that an unknown event name
 * does not compile and listeners get typed arguments.
 *
 *   interface MyEvents { data: [chunk: Buffer]; close: [] }
 *   class My extends TypedEventEmitter<MyEvents> {}
 *   new My().on('data', (chunk) => chunk.length);   // chunk: Buffer
 *   new My().on('bogus', () => {});                  // does not compile
 *
 * Adding an event is one line in its map. Runtime behaviour is EventEmitter's.
 */
import { EventEmitter } from 'node:events';

/** Event name → listener argument list. */
export type EventMap<E> = { [K in keyof E]: unknown[] };

type Listener<A extends unknown[]> = (...args: A) => void;
type Name<E> = keyof E & string;

type Retyped = 'on' | 'once' | 'off' | 'addListener' | 'removeListener' | 'prependListener' | 'prependOnceListener' | 'emit' | 'listenerCount' | 'listeners' | 'rawListeners' | 'removeAllListeners';

export interface TypedEmitter<E extends EventMap<E>> extends Omit<EventEmitter, Retyped> {
  on<K extends Name<E>>(event: K, listener: Listener<E[K]>): this;
  once<K extends Name<E>>(event: K, listener: Listener<E[K]>): this;
  off<K extends Name<E>>(event: K, listener: Listener<E[K]>): this;
  addListener<K extends Name<E>>(event: K, listener: Listener<E[K]>): this;
  removeListener<K extends Name<E>>(event: K, listener: Listener<E[K]>): this;
  prependListener<K extends Name<E>>(event: K, listener: Listener<E[K]>): this;
  prependOnceListener<K extends Name<E>>(event: K, listener: Listener<E[K]>): this;
  emit<K extends Name<E>>(event: K, ...args: E[K]): boolean;
  listenerCount<K extends Name<E>>(event: K): number;
  listeners<K extends Name<E>>(event: K): Listener<E[K]>[];
  rawListeners<K extends Name<E>>(event: K): Listener<E[K]>[];
  removeAllListeners(event?: Name<E>): this;
}

/** EventEmitter with the types of `E`: `class X extends TypedEventEmitter<XEvents> {}`. */
export const TypedEventEmitter = EventEmitter as unknown as new <E extends EventMap<E>>() => TypedEmitter<E>;
