import { resolve } from 'node:path';
import { errnoText } from '../system/errno';
import { appendWhole } from '../system/files';
import type { Config } from '../vmailmgr/config';
import { DeliveryFailure } from '../qmail/outcome';
import { quoteName } from '../qmail/status-line';
import { type LogFacts, logLine, logRecord } from './delivery-log';
import { messageId } from './header-scan';
import type { MessageSource } from './message-source';

/** The delivery's log line, and where it went. */
export interface LogResult {
  /** The log file (a byte string), or undefined when `vdeliver-log` is not set. */
  path?: string;
  /** The JSON line, newline included. */
  line: string;
  written: boolean;
}

export interface LogSetting {
  /** Undefined when there is no home, hence no config. */
  config?: Config;
  /** A dry run builds the line and writes nothing. */
  dryRun?: boolean;
  /** Build the line even when no log is kept (the admin test shows it). */
  showLine?: boolean;
}

/**
 * Append the delivery's one line to the file `vdeliver-log` names, once the outcome stands.
 * Nothing here may change that outcome: every failure, down to an unreadable config item, is a note.
 * With no log, nothing is read or built (a plain delivery pays for nothing).
 */
export function keepLog(
  setting: LogSetting,
  facts: Omit<LogFacts, 'size' | 'messageId'>,
  message: MessageSource | undefined,
  notes: string[],
): LogResult | undefined {
  const path = logPath(setting.config, facts.env.HOME, facts.outcome.kind === 'defer' ? [] : notes);
  if (path === undefined && !setting.showLine) return undefined;
  let line: string;
  try {
    line = logLine(logRecord({ ...facts, size: message?.size, messageId: message && headerId(message) }));
  } catch (error) {
    notes.push(`vdeliver: warning: the delivery log line could not be made: ${errnoText(error)}`);
    return undefined;
  }
  if (path === undefined || setting.dryRun) return { path, line, written: false };
  try {
    appendWhole(path, Buffer.from(line, 'utf8'));
    return { path, line, written: true };
  } catch (error) {
    notes.push(`vdeliver: warning: could not write the delivery log ${quoteName(path)}: ${errnoText(error)}`);
    return { path, line, written: false };
  }
}

/** The file `vdeliver-log` names, relative to $HOME unless absolute; undefined when it is not set. */
export function logFile(config: Config, home: string): string | undefined {
  const value = config.string('vdeliver-log');
  return value === '' ? undefined : resolve(home, value);
}

/**
 * `vdeliver-log` as logFile() reads it; undefined when not set, or unreadable: then a note
 * says so, unless the delivery defers (a config directory that cannot be searched defers it, and the one
 * line it prints names the file; the retry warns once the rest can be read).
 */
function logPath(config: Config | undefined, home: string | undefined, notes: string[]): string | undefined {
  if (!config || !home) return undefined;
  try {
    return logFile(config, home);
  } catch (error) {
    const why = error instanceof DeliveryFailure ? error.outcome.line.replace(/^vdeliver: /, '').replace(/ \(#\d\.\d+\.\d+\)$/, '') : errnoText(error);
    notes.push(`vdeliver: warning: no delivery log: ${why}`);
    return undefined;
  }
}

/** A message that cannot be read (again): the line goes without its Message-ID, the outcome says the rest. */
function headerId(message: MessageSource): string | undefined {
  try {
    return messageId(message);
  } catch {
    return undefined;
  }
}
