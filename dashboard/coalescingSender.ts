/**
 * Backpressure for one WebSocket client: at most one pending message per type (a newer one replaces
 * the older, which is counted as coalesced), written only while the socket's buffered bytes are
 * under a threshold. A client that stops reading therefore costs at most the threshold plus one
 * message of each type, and gets the latest state when it reads again.
 * Owns the pending slots of one socket; must not build, parse or alter messages (they arrive
 * serialized, one buffer shared by all clients) nor decide when to retry (the server's timer and
 * write callbacks call `flush`).
 */
import { WebSocket } from 'ws';
import type { DashboardMessageType } from './messages.js';

/** Counters shared by all of a server's senders. */
export interface SendCounters {
  /** Messages handed to sockets. */
  sent: number;
  /** Messages dropped because a newer one of the same type replaced them before they could be sent. */
  coalesced: number;
  /** Largest `bufferedAmount` seen on any socket right after a send, bytes. */
  bufferedBytesMax: number;
}

export class CoalescingSender {
  // Insertion order is send order; replacing a type moves it to the back (delete + set).
  private readonly pending = new Map<DashboardMessageType, Buffer>();

  /**
   * @param ws an open server-side socket
   * @param maxBufferedBytes no new message is written while `ws.bufferedAmount` is at or above this
   * @param counters where sends and coalesced drops are counted
   */
  constructor(
    private readonly ws: WebSocket,
    private readonly maxBufferedBytes: number,
    private readonly counters: SendCounters,
  ) {}

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** Bytes waiting in this client's pending slots (not yet handed to the socket). */
  get pendingBytes(): number {
    let n = 0;
    for (const b of this.pending.values()) n += b.length;
    return n;
  }

  /** Queues `data` as the latest message of `type`, replacing any not yet sent, and tries to send. */
  offer(type: DashboardMessageType, data: Buffer): void {
    if (this.pending.delete(type)) this.counters.coalesced++;
    this.pending.set(type, data);
    this.flush();
  }

  /** Writes pending messages while the socket is open and under the threshold. */
  flush(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    for (const [type, data] of this.pending) {
      if (this.ws.bufferedAmount >= this.maxBufferedBytes) return;
      this.pending.delete(type);
      // A Buffer sent as text: ws frames it without copying, so all clients share one serialization.
      this.ws.send(data, { binary: false }, this.onWritten);
      this.counters.sent++;
      const buffered = this.ws.bufferedAmount;
      if (buffered > this.counters.bufferedBytesMax) this.counters.bufferedBytesMax = buffered;
    }
  }

  /** Drops everything pending (the socket is closing). */
  clear(): void {
    this.pending.clear();
  }

  // Called once the frame has left the process's buffers: room may have opened for a pending message.
  private readonly onWritten = (err?: Error): void => {
    if (!err && this.pending.size > 0) this.flush();
  };
}
