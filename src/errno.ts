import { failBounce, failDefer, type DeliveryFailure } from './outcome';
import { errnoText } from './status-line';

/**
 * The one errno table (after notqmail's error_temp.c): only a file-system quota is permanent,
 * because retrying cannot make room in someone's quota; everything else may clear up, so defer.
 */
const PERMANENT = new Set(['EDQUOT']);

export function fileFailure(sentence: string, error: unknown): DeliveryFailure {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code && PERMANENT.has(code)) return failBounce('vdeliver: Delivery failed due to system quota violation (#5.2.2)', error);
  return failDefer(`vdeliver: ${sentence} ${errnoText(error)} (#4.3.0)`, error);
}
