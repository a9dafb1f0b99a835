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
  deliveredTo: true, returnPath: true, fromLine: false, predeliver: true, postdeliver: true, quiet: false,
};
