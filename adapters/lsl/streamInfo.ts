/**
 * Stream info: the 17 fields liblsl publishes for every stream plus the `<desc>` metadata tree,
 * written as liblsl's shortinfo/fullinfo XML and parsed back with liblsl's validity rules (doc §4).
 *
 * Owns: `StreamInfo` (pylsl's class of the same name), XML in and out, channel metadata helpers
 * (XDF meta-data conventions: desc/channels/channel/{label,unit,type}). Must not: do I/O.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { assertChannelFormat, type ChannelFormat } from './channelFormat.js';
import { formatLslDouble } from './clock.js';
import { childNamed, cloneElement, element, parseXml, writeXml, type XmlElement } from './xml.js';

/** Data protocol version this library speaks (1.10). */
export const LSL_PROTOCOL_VERSION = 110;

export interface ChannelMeta {
  label: string;
  unit?: string;
  type?: string;
}

export interface StreamInfoInit {
  name: string;
  type?: string;
  channelCount: number;
  /** Samples per second; 0 = irregular (markers). */
  nominalSrate?: number;
  channelFormat?: ChannelFormat;
  sourceId?: string;
}

export class StreamInfoError extends Error {}

export class StreamInfo {
  name: string;
  type: string;
  channelCount: number;
  nominalSrate: number;
  channelFormat: ChannelFormat;
  sourceId: string;
  /** Protocol version ×100 (110 = "1.10"). */
  version = LSL_PROTOCOL_VERSION;
  createdAt = 0;
  uid = '';
  sessionId = 'default';
  hostname = os.hostname();
  v4address = '';
  v4dataPort = 0;
  v4servicePort = 0;
  v6address = '';
  v6dataPort = 0;
  v6servicePort = 0;
  /** The `<desc>` element (empty in shortinfo). */
  descElement: XmlElement = element('desc');

  constructor(init: StreamInfoInit) {
    if (!init.name) throw new StreamInfoError('StreamInfo: name must be non-empty (liblsl rejects a stream without a name)');
    if (!Number.isInteger(init.channelCount) || init.channelCount < 0) throw new StreamInfoError(`StreamInfo ${init.name}: channelCount must be an integer ≥ 0, got ${init.channelCount}`);
    const srate = init.nominalSrate ?? 0;
    if (!Number.isFinite(srate) || srate < 0) throw new StreamInfoError(`StreamInfo ${init.name}: nominalSrate must be ≥ 0 (0 = irregular), got ${srate}`);
    this.name = init.name;
    this.type = init.type ?? '';
    this.channelCount = init.channelCount;
    this.nominalSrate = srate;
    this.channelFormat = assertChannelFormat(init.channelFormat ?? 'float32', `StreamInfo ${init.name}`);
    this.sourceId = init.sourceId ?? '';
  }

  /** pylsl's `desc()`: the metadata root to append children to. */
  desc(): XmlElement {
    return this.descElement;
  }

  /** Writes desc/channels/channel/{label,unit,type} (replacing any existing channels element). */
  setChannels(channels: ChannelMeta[]): this {
    if (channels.length !== this.channelCount) throw new StreamInfoError(`StreamInfo ${this.name}: ${channels.length} channel descriptions for ${this.channelCount} channels`);
    this.descElement.children = this.descElement.children.filter((c) => c.name !== 'channels');
    const list = element('channels');
    for (const ch of channels) {
      const c = element('channel', '', [element('label', ch.label)]);
      if (ch.unit !== undefined) c.children.push(element('unit', ch.unit));
      if (ch.type !== undefined) c.children.push(element('type', ch.type));
      list.children.push(c);
    }
    this.descElement.children.push(list);
    return this;
  }

  /** Channel labels/units/types from desc/channels, or null when the stream has no such metadata. */
  channels(): ChannelMeta[] | null {
    const list = childNamed(this.descElement, 'channels');
    if (!list) return null;
    return list.children
      .filter((c) => c.name === 'channel')
      .map((c) => {
        const unit = childNamed(c, 'unit')?.text;
        const type = childNamed(c, 'type')?.text;
        return { label: childNamed(c, 'label')?.text ?? '', ...(unit !== undefined ? { unit } : {}), ...(type !== undefined ? { type } : {}) };
      });
  }

  /** The `<info>` element; `full` includes the desc subtree. */
  toElement(full: boolean): XmlElement {
    // liblsl appends a pcdata node to every field, so an empty one is written `<v4address></v4address>`.
    const t = (name: string, v: string): XmlElement => ({ ...element(name, v), pcdata: true });
    return element('info', '', [
      t('name', this.name),
      t('type', this.type),
      t('channel_count', String(this.channelCount)),
      t('channel_format', this.channelFormat),
      t('source_id', this.sourceId),
      t('nominal_srate', formatLslDouble(this.nominalSrate)),
      t('version', formatLslDouble(this.version / 100)),
      t('created_at', formatLslDouble(this.createdAt)),
      t('uid', this.uid),
      t('session_id', this.sessionId),
      t('hostname', this.hostname),
      t('v4address', this.v4address),
      t('v4data_port', String(this.v4dataPort)),
      t('v4service_port', String(this.v4servicePort)),
      t('v6address', this.v6address),
      t('v6data_port', String(this.v6dataPort)),
      t('v6service_port', String(this.v6servicePort)),
      full ? cloneElement(this.descElement) : element('desc'),
    ]);
  }

  toShortXml(): string {
    return writeXml(this.toElement(false));
  }

  toFullXml(): string {
    return writeXml(this.toElement(true));
  }

  /** A copy (the desc tree is deep-copied). */
  clone(): StreamInfo {
    const c = Object.assign(Object.create(StreamInfo.prototype) as StreamInfo, this);
    c.descElement = cloneElement(this.descElement);
    return c;
  }

  /** A new outlet identity: fresh lowercase uuid4 and creation time. */
  assignIdentity(createdAt: number): void {
    this.uid = randomUUID().toLowerCase();
    this.createdAt = createdAt;
  }

  /** Parses shortinfo or fullinfo XML with liblsl's rules; `what` names the source in errors. */
  static fromXml(xml: string, what = 'stream info'): StreamInfo {
    const root = parseXml(xml, what);
    if (root.name !== 'info') throw new StreamInfoError(`${what}: root element is <${root.name}>, expected <info>`);
    const field = (name: string, required = true): string => {
      const el = childNamed(root, name);
      if (!el) {
        if (required) throw new StreamInfoError(`${what}: missing <${name}> (liblsl requires all 17 fields)`);
        return '';
      }
      return el.text.trim();
    };
    const int = (name: string, min: number, max: number): number => {
      const s = field(name);
      const v = Number(s);
      if (s === '' || !Number.isInteger(v) || v < min || v > max) throw new StreamInfoError(`${what}: <${name}> must be an integer in ${min}…${max}, got "${s}"`);
      return v;
    };
    const dbl = (name: string, nonNegative: boolean): number => {
      const s = field(name);
      const v = Number(s);
      if (s === '' || !Number.isFinite(v) || (nonNegative && v < 0)) throw new StreamInfoError(`${what}: <${name}> must be a ${nonNegative ? 'non-negative ' : ''}number, got "${s}"`);
      return v;
    };
    const name = field('name');
    if (!name) throw new StreamInfoError(`${what}: <name> is empty`);
    const format = field('channel_format');
    const info = new StreamInfo({
      name,
      type: field('type', false),
      channelCount: int('channel_count', 0, 2 ** 31 - 1),
      nominalSrate: dbl('nominal_srate', true),
      channelFormat: assertChannelFormat(format, `${what} <channel_format>`),
      sourceId: field('source_id', false),
    });
    const version = Math.floor(dbl('version', true) * 100 + 1e-9);
    if (version <= 0) throw new StreamInfoError(`${what}: <version> must be > 0`);
    info.version = version;
    info.createdAt = dbl('created_at', false);
    info.uid = field('uid');
    if (!info.uid) throw new StreamInfoError(`${what}: <uid> is empty`);
    info.sessionId = field('session_id', false);
    info.hostname = field('hostname', false);
    info.v4address = field('v4address', false);
    info.v6address = field('v6address', false);
    info.v4dataPort = int('v4data_port', 0, 65535);
    info.v4servicePort = int('v4service_port', 0, 65535);
    info.v6dataPort = int('v6data_port', 0, 65535);
    info.v6servicePort = int('v6service_port', 0, 65535);
    info.descElement = childNamed(root, 'desc') ?? element('desc');
    return info;
  }
}
