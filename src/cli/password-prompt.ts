import type { ReadStream } from 'node:tty';
import { byteString } from '../system/bytes';
import { AdminError } from '../admin/context';
import { asksForPassword, type EditCommand } from '../admin/edit-command';

/** Where add and set read a password: a hidden prompt, typed twice, when stdin is a terminal; stdin otherwise. */
export async function passwordSource(command: EditCommand, args: string[], stdin: () => string): Promise<() => string> {
  if (!process.stdin.isTTY || !asksForPassword(command, args)) return stdin;
  const typed = await askNewPassword(process.stdin as ReadStream, process.stderr);
  return () => typed;
}

/**
 * Ask for a new password on the terminal, as passwd(1) does: nothing is echoed, and it is typed
 * twice. The terminal is put in raw mode only while a line is read, and always put back.
 * Returns the password's bytes as a byte string (src/system/bytes.ts).
 */
export async function askNewPassword(input: ReadStream, output: NodeJS.WritableStream): Promise<string> {
  const reader = new HiddenLines(input, output);
  const first = await reader.line('New password: ');
  if (first === '') throw new AdminError('no password typed; nothing was changed');
  const second = await reader.line('Retype new password: ');
  if (first !== second) throw new AdminError('the passwords do not match; nothing was changed');
  return first;
}

const ENTER = [0x0a, 0x0d];
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_U = 0x15;
const ERASE = [0x08, 0x7f];

/** Lines read from a terminal in raw mode, without echo; bytes typed ahead of a prompt are kept for it. */
class HiddenLines {
  private pending: number[] = [];

  constructor(
    private readonly input: ReadStream,
    private readonly output: NodeJS.WritableStream,
  ) {}

  line(prompt: string): Promise<string> {
    // Echo goes off before the prompt shows, so nothing typed after it can be echoed.
    this.input.setRawMode(true);
    this.output.write(prompt);
    const typed: number[] = [];
    return new Promise((resolve, reject) => {
      const finish = (error?: Error): void => {
        this.input.off('data', onData);
        this.input.setRawMode(false);
        this.input.pause();
        // The Enter that ended the line was not echoed either.
        this.output.write('\n');
        if (error) reject(error);
        else resolve(byteString(Buffer.from(typed)));
      };
      const onData = (chunk: Buffer): void => {
        this.pending.push(...chunk);
        while (this.pending.length > 0) {
          const byte = this.pending.shift() as number;
          if (ENTER.includes(byte)) return finish();
          // Raw mode turns off the signal keys: Ctrl-C and Ctrl-D are ours to honour.
          if (byte === CTRL_C) return finish(new AdminError('interrupted; nothing was changed'));
          if (byte === CTRL_D && typed.length === 0) return finish(new AdminError('end of input; nothing was changed'));
          if (byte === CTRL_U) typed.length = 0;
          else if (ERASE.includes(byte)) eraseCharacter(typed);
          else if (byte !== CTRL_D) typed.push(byte);
        }
      };
      this.input.on('data', onData);
      this.input.resume();
      onData(Buffer.alloc(0));
    });
  }
}

/** Backspace removes one character: a UTF-8 character's continuation bytes go with it. */
function eraseCharacter(typed: number[]): void {
  while (typed.length > 0 && (typed[typed.length - 1] & 0xc0) === 0x80) typed.pop();
  typed.pop();
}
