import { createReadStream, statSync } from 'node:fs';

/** What an admin wants to see of a test message before it is delivered. */
export interface MessageSummary {
  size: number;
  from?: string;
  to?: string;
  subject?: string;
  date?: string;
  messageId?: string;
  attachments: Array<{ filename: string; contentType: string; size: number }>;
  /** Set when the message could not be parsed (it is still delivered byte for byte). */
  problem?: string;
}

interface ParsedMail {
  from?: { text: string };
  to?: { text: string } | Array<{ text: string }>;
  subject?: string;
  date?: Date;
  messageId?: string;
  attachments: Array<{ filename?: string; contentType: string; size: number }>;
}
type SimpleParser = (input: NodeJS.ReadableStream, options: Record<string, boolean>) => Promise<ParsedMail>;

const PARSE_LIMIT_MS = 10_000;

/**
 * Parse the message with mailparser for display only. Loaded here, on first use, and never by
 * bin/vdeliver: the delivery path does not parse MIME. A message mailparser cannot handle
 * still gets a summary that says so.
 */
export async function summarize(path: string | Buffer): Promise<MessageSummary> {
  const size = statSync(path).size;
  const { simpleParser } = require('mailparser') as { simpleParser: SimpleParser };
  const stream = createReadStream(path);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${PARSE_LIMIT_MS / 1000} s`)), PARSE_LIMIT_MS);
  });
  try {
    const mail = await Promise.race([simpleParser(stream, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true }), timeout]);
    const to = Array.isArray(mail.to) ? mail.to.map((a) => a.text).join(', ') : mail.to?.text;
    return {
      size,
      from: mail.from?.text,
      to,
      subject: mail.subject,
      date: mail.date && !Number.isNaN(mail.date.getTime()) ? mail.date.toISOString() : undefined,
      messageId: mail.messageId,
      attachments: mail.attachments.map((a) => ({ filename: a.filename ?? '(unnamed)', contentType: a.contentType, size: a.size })),
    };
  } catch (error) {
    return { size, attachments: [], problem: `could not be parsed: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    clearTimeout(timer);
    stream.destroy();
  }
}
