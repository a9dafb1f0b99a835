/**
 * The four results of a delivery, as qmail-local understands them (qmail-command(8)):
 * 0 delivered, 99 delivered and stop reading .qmail lines, 100 bounce, 111 try again later.
 */
export type Outcome =
  | { kind: 'delivered'; line?: string }
  | { kind: 'skip'; line?: string }
  /** `preface`: the admin's own words, printed before the line (vpopmail's .over-quota.msg, .no-user.msg). */
  | { kind: 'bounce'; line: string; preface?: string }
  | { kind: 'defer'; line: string };

export const delivered = (line?: string): Outcome => ({ kind: 'delivered', line });
export const skip = (line?: string): Outcome => ({ kind: 'skip', line });
export const bounce = (line: string): Outcome => ({ kind: 'bounce', line });
export const defer = (line: string): Outcome => ({ kind: 'defer', line });

/** The only place an outcome becomes an exit code. */
export function exitCode(outcome: Outcome): 0 | 99 | 100 | 111 {
  switch (outcome.kind) {
    case 'delivered':
      return 0;
    case 'skip':
      return 99;
    case 'bounce':
      return 100;
    case 'defer':
      return 111;
  }
}

/**
 * A failure raised where it is detected, carrying the outcome it must end in.
 * The delivery path catches these in one place; the original error stays as `cause`.
 */
export class DeliveryFailure extends Error {
  constructor(
    readonly outcome: Outcome & { line: string },
    options?: { cause?: unknown },
  ) {
    super(outcome.line, options);
    this.name = 'DeliveryFailure';
  }
}

export const failBounce = (line: string, cause?: unknown, preface?: string): DeliveryFailure =>
  new DeliveryFailure(preface ? { kind: 'bounce', line, preface } : { kind: 'bounce', line }, { cause });
export const failDefer = (line: string, cause?: unknown): DeliveryFailure => new DeliveryFailure({ kind: 'defer', line }, { cause });
