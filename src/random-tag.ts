/**
 * 64 random bits as 16 hex digits, for temporary and Maildir names. Uniqueness already comes from
 * time, pid and a counter; this only makes names unguessable enough, so Math.random suffices and
 * saves loading node:crypto (a few ms of start-up) on every delivery.
 */
export function randomTag(): string {
  const part = (): string => Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0');
  return part() + part();
}
