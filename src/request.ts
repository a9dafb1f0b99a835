import { bounce, defer, type Outcome } from './outcome';

/** What qmail-local tells us about one delivery (qmail-local.c main(); spec §2). */
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
  /**
   * The values that must reach the Maildir, the envelope and the table lookup byte for byte.
   * They equal the strings above unless a value is not valid UTF-8 (qmail passes any byte on).
   */
  bytes: Readonly<Record<'ext' | 'sender' | 'ufline' | 'rpline' | 'dtline', Buffer>>;
}

/** Checked in vmailmgr's order; only presence counts, an empty value is accepted. */
const REQUIRED = ['USER', 'EXT', 'HOST', 'SENDER', 'UFLINE', 'RPLINE', 'DTLINE'] as const;

/**
 * qmail-local's environment as a Request. `rawEnv` gives the exact bytes of variables that were not
 * valid UTF-8 (Node's process.env replaced those bytes with U+FFFD).
 */
export function readRequest(env: Readonly<Record<string, string | undefined>>, rawEnv?: ReadonlyMap<string, Buffer>): { request: Request } | { outcome: Outcome } {
  // vmailmgr exits 1 here (a temporary failure for qmail); we say 111 outright.
  if (!env.HOME) return { outcome: defer("vdeliver: Can't determine home directory (#4.3.5)") };
  for (const name of REQUIRED) {
    if (env[name] === undefined) return { outcome: bounce(`vdeliver: ${name} is not set (#5.3.5)`) };
  }
  const exact = (name: string): Buffer => rawEnv?.get(name) ?? Buffer.from(env[name] as string, 'utf8');
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
      bytes: {
        ext: exact('EXT'), sender: exact('SENDER'), ufline: exact('UFLINE'), rpline: exact('RPLINE'), dtline: exact('DTLINE'),
      },
    },
  };
}
