import type { IdentityApi } from '../modules/identity/index.ts';
import type { Role } from '../platform/http/auth.ts';

export const DEMO_PASSWORD = 'lectern-demo-pass';

const instructors = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing'];
const students = [
  'Chinwe Okafor',
  'Kwame Mensah',
  'Amara Diallo',
  'Tunde Bakare',
  'Zainab Bello',
  'Lerato Molefe',
  'Yusuf Abdi',
  'Fatima Sow',
  'Kofi Boateng',
  'Nia Kamau',
  'Sipho Dlamini',
  'Aisha Yusuf',
  'Emeka Eze',
  'Wanjiru Njoroge',
  'Hassan Ali',
  'Imani Otieno',
  'Tariq Hassan',
  'Ngozi Obi',
  'Musa Kanu',
  'Efua Asante',
];

const slug = (name: string) => name.toLowerCase().replace(/[^a-z]+/g, '.');

/**
 * Demo data for a local platform. Idempotent: accounts that exist are left alone. Grows as
 * modules land (courses, enrollments, ...).
 */
export async function seedDemo({
  identity,
}: {
  identity: Pick<IdentityApi, 'createUser' | 'findUserByEmail'>;
}) {
  const people: Array<{ email: string; name: string; role: Role }> = [
    { email: 'admin@lectern.local', name: 'Demo Admin', role: 'admin' },
    ...instructors.map((name) => ({
      email: `${slug(name)}@lectern.local`,
      name,
      role: 'instructor' as const,
    })),
    ...students.map((name) => ({
      email: `${slug(name)}@students.lectern.local`,
      name,
      role: 'student' as const,
    })),
  ];
  let created = 0;
  const instructorAccounts: Array<{ userId: number; name: string }> = [];
  for (const person of people) {
    let user = await identity.findUserByEmail(person.email);
    if (!user) {
      user = await identity.createUser({ ...person, password: DEMO_PASSWORD });
      created++;
    }
    if (person.role === 'instructor') instructorAccounts.push({ userId: user.id, name: user.name });
  }
  const summary = [
    `Demo data: ${created} accounts created, ${people.length - created} already present.`,
    `Every demo account uses the password "${DEMO_PASSWORD}".`,
    `  admin:       admin@lectern.local`,
    `  instructors: ${people
      .filter((p) => p.role === 'instructor')
      .map((p) => p.email)
      .join(', ')}`,
    `  students:    ${people.filter((p) => p.role === 'student').length} accounts, e.g. ${people.find((p) => p.role === 'student')!.email}`,
  ].join('\n');
  return { summary, instructors: instructorAccounts };
}
