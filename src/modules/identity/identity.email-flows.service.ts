import { sha256Hex } from '../../platform/crypto.ts';
import type { Db } from '../../platform/db.ts';
import type { Events } from '../../platform/events.ts';
import type { Mailer } from '../../platform/mail.ts';
import type { Throttle } from '../../platform/throttle.ts';
import { createOtpService } from './identity.otp.service.ts';
import { createPasswordService } from './identity.password.service.ts';
import { USER_REGISTERED, type UserRegistered } from './identity.service.ts';
import type { SignIn } from './identity.signin.ts';
import { createVerificationService } from './identity.verification.service.ts';

/** What the email-driven flows share: the database, mail, counters, sign-in and the web app's URL. */
export interface EmailFlowDeps {
  db: Db;
  mailer: Pick<Mailer, 'send'>;
  throttle: Throttle;
  signIn: SignIn;
  /** Base URL of the web app, where emailed links land. */
  appUrl: string;
  /** Counts a request that mails something to `email`; false once the email is over its limit. */
  emailRequestAllowed: (scope: string, email: string) => Promise<boolean>;
}

/** Emails one address may be sent per window, per flow: enough for typos and slow mail, not for flooding. */
const EMAIL_REQUESTS_PER_WINDOW = 5;
const EMAIL_REQUEST_WINDOW_SECONDS = 15 * 60;

/**
 * Email verification, email OTP sign-in and password reset/change. Subscribes the verification
 * email to `identity.user.registered`, so call it while the module is built, before jobs start.
 */
export function createEmailFlows(deps: Omit<EmailFlowDeps, 'emailRequestAllowed'> & { events: Events }) {
  const { throttle, events } = deps;
  const flowDeps: EmailFlowDeps = {
    ...deps,
    // Keyed by a hash of the address so the counter store never holds emails in clear.
    emailRequestAllowed: async (scope, email) =>
      (await throttle.hit(`${scope}:${sha256Hex(email.toLowerCase())}`, EMAIL_REQUEST_WINDOW_SECONDS)) <=
      EMAIL_REQUESTS_PER_WINDOW,
  };
  const verification = createVerificationService(flowDeps);
  events.subscribe<UserRegistered>({
    event: USER_REGISTERED,
    consumer: 'identity.sendVerificationEmail',
    handle: (event, tx) => verification.onUserRegistered(event, tx),
  });
  return {
    verification,
    otp: createOtpService(flowDeps),
    password: createPasswordService(flowDeps),
  };
}
export type EmailFlows = ReturnType<typeof createEmailFlows>;
