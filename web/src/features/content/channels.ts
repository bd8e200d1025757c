/** What each channel's template holds (the API's TemplateContent: `subject` is the push / email / inbox
 * title, `url` the link of push, WeChat and inbox, the gateways with registered templates need their id and
 * its parameters). */

export const CHANNEL_OPTIONS = ['sms', 'push', 'wechat', 'wecom', 'email', 'inbox', 'webhook', 'log'] as const;

const SUBJECT = new Set(['push', 'email', 'inbox', 'wecom', 'webhook']);
const URL = new Set(['push', 'wechat', 'inbox']);
const REGISTERED = new Set(['sms', 'wechat']);

/** The optional fields the editor shows for a channel. */
export function fieldsOf(channel: string): { subject: boolean; url: boolean; providerTemplate: boolean; params: boolean } {
  return { subject: SUBJECT.has(channel), url: URL.has(channel), providerTemplate: REGISTERED.has(channel), params: REGISTERED.has(channel) };
}

/** A template status's badge colour. */
export const STATUS_COLORS: Record<string, string> = { draft: 'default', active: 'green', retired: 'default', pending: 'blue' };

/** A policy decision's colour: would send, delayed, skipped. */
export const OUTCOME_COLORS: Record<string, string> = { 'would send': 'green', delayed: 'orange', skipped: 'red' };
