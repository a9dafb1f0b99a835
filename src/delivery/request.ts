import { bounce, defer, type Outcome } from '../qmail/outcome';

/**
 * What qmail-local tells us about one delivery (qmail-local.c main(); spec §2). Every value is a
 * byte string (src/system/bytes.ts): qmail passes any byte on, and these reach the table key, the Maildir
 * copy, the envelope and file names byte for byte.
 */
export interface Request {
  home: string;
  user: string;
  /** The virtual user name exactly as the sender typed it. */
  ext: string;
  host: string;
  sender: string;
  /** `From <sender> <date>\n`, `Return-Path: <…>\n`, `Delivered-To: …\n`: copied byte for byte. */
  ufline: string;
  rpline: string;
  dtline: string;
  /** The whole environment, passed on untouched to hooks and qmail-queue. */
  env: Readonly<Record<string, string>>;
}

/** Checked in vmailmgr's order; only presence counts, an empty value is accepted. */
const REQUIRED = ['USER', 'EXT', 'HOST', 'SENDER', 'UFLINE', 'RPLINE', 'DTLINE'] as const;

/** qmail-local's environment (as byte strings) as a Request. */
export function readRequest(env: Readonly<Record<string, string | undefined>>): { request: Request } | { outcome: Outcome } {
  // vmailmgr exits 1 here (a temporary failure for qmail); we say 111 outright.
  if (!env.HOME) return { outcome: defer("vdeliver: Can't determine home directory (#4.3.5)") };
  for (const name of REQUIRED) {
    if (env[name] === undefined) return { outcome: bounce(`vdeliver: ${name} is not set (#5.3.5)`) };
  }
  const clean: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) clean[name] = value;
  return {
    request: {
      home: clean.HOME,
      user: clean.USER,
      ext: clean.EXT,
      host: clean.HOST,
      sender: clean.SENDER,
      ufline: clean.UFLINE,
      rpline: clean.RPLINE,
      dtline: clean.DTLINE,
      env: clean,
    },
  };
}

/** vdeliver's switches (vmailmgr's command line, spec §3). */
export interface DeliveryOptions {
  /** -D / -d: Delivered-To line in the Maildir copy and in forwarded copies. */
  deliveredTo: boolean;
  /** -R / -r: Return-Path line in the Maildir copy. */
  returnPath: boolean;
  /** -F / -f: mbox "From " line first in the Maildir copy. */
  fromLine: boolean;
  predeliver: boolean;
  postdeliver: boolean;
  quiet: boolean;
}

export const DEFAULT_OPTIONS: DeliveryOptions = {
  deliveredTo: true,
  returnPath: true,
  fromLine: false,
  predeliver: true,
  postdeliver: true,
  quiet: false,
};
