import { execFileSync } from 'node:child_process';
import type { TestApp } from '../helpers/app.ts';

/**
 * The RFC 6238 code of `secret` from Debian's oathtool (not otplib, so tests check compatibility
 * rather than otplib agreeing with itself), `offsetSteps` 30-second steps from now.
 */
export function oathtool(secret: string, offsetSteps = 0): string {
  const args = ['--totp', '-b'];
  if (offsetSteps) args.push('-N', `@${Math.floor(Date.now() / 1000) + offsetSteps * 30}`);
  return execFileSync('oathtool', [...args, secret], { encoding: 'utf8' }).trim();
}

/** Turns TOTP 2FA on through the API with oathtool's current code. */
export async function enableTotp(
  t: TestApp,
  token: string,
): Promise<{ secret: string; recoveryCodes: string[] }> {
  const setup = await t.request({ method: 'POST', url: '/api/auth/mfa/totp/setup', token });
  const secret = setup.body.data.secret as string;
  const enable = await t.request({
    method: 'POST',
    url: '/api/auth/mfa/totp/enable',
    token,
    payload: { code: oathtool(secret) },
  });
  if (enable.status !== 200) throw new Error(`enabling 2FA failed: ${JSON.stringify(enable.body)}`);
  return { secret, recoveryCodes: enable.body.data.recoveryCodes };
}
