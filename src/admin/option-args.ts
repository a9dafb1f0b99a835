import { AdminError } from './context';

/**
 * The arguments with every `--name=value` split into `--name` and `value`, so each command reads
 * both spellings (as getopt_long does). A flag in `flags` takes no value, and saying one is an error
 * rather than a stray argument.
 */
export function splitOptionValues(args: string[], flags: readonly string[]): string[] {
  return args.flatMap((arg) => {
    const eq = arg.indexOf('=');
    if (!arg.startsWith('--') || eq < 0) return [arg];
    const name = arg.slice(0, eq);
    if (flags.includes(name)) throw new AdminError(`${name} takes no value`);
    return [name, arg.slice(eq + 1)];
  });
}
