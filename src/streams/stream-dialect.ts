/**
 * What a Media Stream's wire protocol must do, whichever it is: Twilio's JSON protocol (base64
 * µ-law 8 kHz) or Patchbay's binary L16 protocol. A dialect turns call audio and events into
 * frames for the app, and the app's frames into audio and control messages. It owns no socket.
 */
import type { MediaStreamTrack } from './media-stream-messages.js';

/** One 20 ms frame of call audio at 8 kHz, in both forms a dialect may need. */
export interface AudioFrame {
  /** 160 µ-law bytes (valid during the call only: copy to keep). */
  ulaw: Uint8Array;
  /** 160 linear samples (valid during the call only: copy to keep). */
  pcm: Int16Array;
}

export interface StreamStartInfo {
  streamSid: string;
  accountSid: string;
  callSid: string;
  tracks: readonly MediaStreamTrack[];
  customParameters: ReadonlyArray<readonly [string, string]>;
}

export type AppFrame =
  /** Audio for the caller, already at 8 kHz. */
  | { kind: 'audio'; pcm: Int16Array }
  | { kind: 'mark'; name: string | undefined }
  | { kind: 'clear' }
  /** A frame the protocol does not allow; `message` says why (Twilio's 31951). */
  | { kind: 'invalid'; message: string };

export type Frame = string | Buffer;

export interface StreamDialect {
  /** Frames sent as soon as the socket opens (Twilio: `connected` then `start`). */
  opening(): Frame[];
  /** The frames for one 20 ms tick; a track not carried by the stream is null. */
  audio(timestampMs: number, inbound: AudioFrame | null, outbound: AudioFrame | null): Frame[];
  dtmf(digit: string): Frame;
  /** Echo of an app mark whose audio has played (or was cleared). */
  mark(name: string | undefined): Frame;
  speech(type: 'speech-started' | 'speech-stopped', atMs: number): Frame;
  /** The stream's last frame. */
  stop(): Frame;
  parse(data: Buffer, isBinary: boolean): AppFrame;
}
