import { custom, welcome } from './account.ts';
import { coursePublished, enrollmentConfirmation, inactivityReminder, newLesson } from './courses.ts';
import type { NotificationTemplate } from './define.ts';
import { dailyDigest } from './digest.ts';
import { paymentReceipt, refundNotice } from './payments.ts';

export * from './define.ts';
export {
  coursePublished,
  custom,
  dailyDigest,
  enrollmentConfirmation,
  inactivityReminder,
  newLesson,
  paymentReceipt,
  refundNotice,
  welcome,
};

// `never` accepts every template's variables type: the registry only renders stored data, which each template re-parses.
const all: Array<NotificationTemplate<never>> = [
  welcome,
  custom,
  enrollmentConfirmation,
  newLesson,
  coursePublished,
  inactivityReminder,
  paymentReceipt,
  refundNotice,
  dailyDigest,
];
const byName = new Map(all.map((t) => [t.name, t]));

/** The template a stored notification was written with, or undefined for an unknown name. */
export function templateNamed(name: string): NotificationTemplate<never> | undefined {
  return byName.get(name);
}
