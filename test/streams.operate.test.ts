/**
 * `operate`, the plumbing under every operator in streams/: a throw in a handler becomes the
 * output's error, defaults pass errors and completion on, teardown runs once in every ending, an
 * output that ended during `init` never subscribes the source, and a synchronous source's values
 * after the output ended never reach the handlers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defer, from, lastValueFrom, Observable, Subject, throwError, toArray } from 'rxjs';
import { operate } from '../streams/operate.js';

describe('operate', () => {
  it('passes values through its handlers, then completion and teardown by default', async () => {
    let finalized = 0;
    const double = operate<number, number>((out) => ({ next: (x) => out.next(2 * x), finalize: () => finalized++ }));
    assert.deepEqual(await lastValueFrom(from([1, 2, 3]).pipe(double, toArray())), [2, 4, 6]);
    assert.equal(finalized, 1);
  });

  it('turns a throw into the error, stops reading a synchronous source, and tears down once', async () => {
    const seen: number[] = [];
    let finalized = 0;
    const op = operate<number, number>(() => ({
      next: (x) => {
        seen.push(x);
        if (x === 2) throw new RangeError('two is bad');
      },
      finalize: () => finalized++,
    }));
    await assert.rejects(lastValueFrom(from([1, 2, 3, 4]).pipe(op)), /two is bad/);
    assert.deepEqual(seen, [1, 2], 'values after the error must not reach the handler');
    assert.equal(finalized, 1);
  });

  it('passes a source error on by default, or to the error handler', async () => {
    await assert.rejects(lastValueFrom(throwError(() => new Error('upstream')).pipe(operate(() => ({ next: () => undefined })))), /upstream/);
    const handled: unknown[] = [];
    const op = operate<number, number>((out) => ({
      next: () => undefined,
      error: (e) => {
        handled.push(e);
        out.complete();
      },
    }));
    assert.deepEqual(await lastValueFrom(throwError(() => new Error('x')).pipe(op, toArray())), []);
    assert.equal(handled.length, 1);
  });

  it('a complete handler decides when the output completes', async () => {
    const later = new Subject<void>();
    const op = operate<number, number>((out) => {
      let sum = 0;
      return { next: (x) => (sum += x), complete: () => later.subscribe(() => { out.next(sum); out.complete(); }) };
    });
    const result = lastValueFrom(from([1, 2, 3]).pipe(op, toArray()));
    later.next();
    assert.deepEqual(await result, [6]);
  });

  it('does not subscribe the source when init already ended the output', async () => {
    let subscribed = 0;
    const source = defer(() => {
      subscribed++;
      return from([1]);
    });
    let finalized = 0;
    const op = operate<number, number>((out) => {
      out.error(new Error('second input failed'));
      return { next: () => undefined, finalize: () => finalized++ };
    });
    await assert.rejects(lastValueFrom(source.pipe(op)), /second input failed/);
    assert.equal(subscribed, 0);
    assert.equal(finalized, 1);
  });

  it('unsubscribing the output unsubscribes the source and runs the teardown', () => {
    let sourceTornDown = 0;
    let finalized = 0;
    const source = new Observable<number>(() => () => sourceTornDown++);
    const sub = source.pipe(operate<number, number>(() => ({ next: () => undefined, finalize: () => finalized++ }))).subscribe();
    sub.unsubscribe();
    assert.deepEqual([sourceTornDown, finalized], [1, 1]);
  });
});
