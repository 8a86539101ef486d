import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../platform/db.ts';
import {
  recomputeCourseDuration,
  refreshSearchVector,
  refreshSearchVectorsInRange,
} from './catalog.repository.ts';
import { categories, courseInstructors, courses, lessons, sections, tags } from './catalog.tables.ts';
import {
  DESCRIPTION_BODIES,
  DESCRIPTION_INTROS,
  DESCRIPTION_OUTCOMES,
  FOCUS,
  LEVELS,
  SUBTITLE_OPENERS,
  SUFFIXES,
  TOPICS,
} from './catalog.seed.vocabulary.ts';

export interface SeedInstructor {
  userId: number;
  name: string;
}

const TREE: Array<{ name: string; slug: string; children: Array<[string, string]> }> = [
  {
    name: 'Programming',
    slug: 'programming',
    children: [
      ['Web Development', 'web-development'],
      ['Data Science', 'data-science'],
      ['Mobile Development', 'mobile-development'],
    ],
  },
  {
    name: 'Business',
    slug: 'business',
    children: [
      ['Marketing', 'marketing'],
      ['Finance', 'finance'],
      ['Entrepreneurship', 'entrepreneurship'],
    ],
  },
  {
    name: 'Design',
    slug: 'design',
    children: [
      ['UX Design', 'ux-design'],
      ['Graphic Design', 'graphic-design'],
    ],
  },
  {
    name: 'Languages',
    slug: 'languages',
    children: [
      ['English', 'english'],
      ['French', 'french'],
    ],
  },
];

// [title, subtitle, category slug, tags, difficulty, price (major units, NGN)]
const DEMO: Array<[string, string, string, string[], 'Beginner' | 'Intermediate' | 'Advanced', number]> = [
  [
    'Introduction to Python',
    'Learn Python basics from zero',
    'data-science',
    ['python', 'programming'],
    'Beginner',
    0,
  ],
  [
    'Python for Data Analysis',
    'pandas, NumPy and plotting',
    'data-science',
    ['python', 'pandas', 'data'],
    'Intermediate',
    15000,
  ],
  [
    'Machine Learning with scikit-learn',
    'Models that learn from data',
    'data-science',
    ['python', 'machine learning'],
    'Advanced',
    35000,
  ],
  [
    'SQL for Everyone',
    'Query databases with confidence',
    'data-science',
    ['sql', 'databases'],
    'Beginner',
    8000,
  ],
  [
    'Statistics for Data Science',
    'The maths behind the models',
    'data-science',
    ['statistics', 'data'],
    'Intermediate',
    12000,
  ],
  [
    'Deep Learning Foundations',
    'Neural networks from scratch',
    'data-science',
    ['deep learning', 'python'],
    'Advanced',
    45000,
  ],
  [
    'Advanced JavaScript',
    'Master closures, async and the event loop',
    'web-development',
    ['javascript'],
    'Advanced',
    25000,
  ],
  [
    'HTML and CSS from Scratch',
    'Build your first web pages',
    'web-development',
    ['html', 'css'],
    'Beginner',
    0,
  ],
  [
    'Modern React',
    'Components, hooks and state',
    'web-development',
    ['react', 'javascript'],
    'Intermediate',
    20000,
  ],
  [
    'Node.js Backends',
    'APIs with Fastify and PostgreSQL',
    'web-development',
    ['node', 'javascript', 'postgresql'],
    'Intermediate',
    22000,
  ],
  [
    'TypeScript in Practice',
    'Types that catch bugs',
    'web-development',
    ['typescript', 'javascript'],
    'Intermediate',
    18000,
  ],
  [
    'Web Accessibility',
    'Sites everyone can use',
    'web-development',
    ['accessibility', 'html'],
    'Beginner',
    9000,
  ],
  [
    'Django for Beginners',
    'Python web apps the batteries-included way',
    'web-development',
    ['python', 'django'],
    'Beginner',
    14000,
  ],
  [
    'Flutter Mobile Apps',
    'One codebase for Android and iOS',
    'mobile-development',
    ['flutter', 'dart'],
    'Intermediate',
    24000,
  ],
  [
    'Android with Kotlin',
    'Native Android development',
    'mobile-development',
    ['kotlin', 'android'],
    'Intermediate',
    26000,
  ],
  [
    'iOS with SwiftUI',
    'Declarative apps for iPhone',
    'mobile-development',
    ['swift', 'ios'],
    'Intermediate',
    28000,
  ],
  [
    'Digital Marketing Essentials',
    'Reach customers online',
    'marketing',
    ['marketing', 'seo'],
    'Beginner',
    10000,
  ],
  [
    'Social Media Strategy',
    'Grow an audience that buys',
    'marketing',
    ['social media', 'marketing'],
    'Beginner',
    7000,
  ],
  ['SEO that Works', 'Rank without tricks', 'marketing', ['seo'], 'Intermediate', 11000],
  ['Email Marketing', 'Newsletters people open', 'marketing', ['email', 'marketing'], 'Beginner', 0],
  ['Personal Finance', 'Budget, save and invest', 'finance', ['finance', 'investing'], 'Beginner', 0],
  ['Accounting Basics', 'Read and write financial statements', 'finance', ['accounting'], 'Beginner', 9500],
  [
    'Financial Modelling in Excel',
    'Forecasts investors trust',
    'finance',
    ['excel', 'finance'],
    'Advanced',
    32000,
  ],
  [
    'Starting a Small Business',
    'From idea to first customers',
    'entrepreneurship',
    ['startup', 'business'],
    'Beginner',
    12000,
  ],
  [
    'Pitching to Investors',
    'Decks and stories that raise money',
    'entrepreneurship',
    ['startup', 'fundraising'],
    'Intermediate',
    16000,
  ],
  [
    'Product Management',
    'Build what users need',
    'entrepreneurship',
    ['product', 'business'],
    'Intermediate',
    21000,
  ],
  [
    'UX Research Methods',
    'Interviews, tests and insight',
    'ux-design',
    ['ux', 'research'],
    'Intermediate',
    17000,
  ],
  ['Figma Fundamentals', 'Design interfaces collaboratively', 'ux-design', ['figma', 'ui'], 'Beginner', 8500],
  [
    'Design Systems',
    'Consistent products at scale',
    'ux-design',
    ['design systems', 'ui'],
    'Advanced',
    27000,
  ],
  [
    'Graphic Design Principles',
    'Layout, colour and type',
    'graphic-design',
    ['graphic design', 'typography'],
    'Beginner',
    9000,
  ],
  [
    'Logo and Brand Identity',
    'Memorable brands',
    'graphic-design',
    ['branding', 'logo'],
    'Intermediate',
    15500,
  ],
  [
    'Adobe Illustrator Masterclass',
    'Vector art like a pro',
    'graphic-design',
    ['illustrator', 'vector'],
    'Advanced',
    23000,
  ],
  [
    'Business English',
    'Meetings, emails and presentations',
    'english',
    ['english', 'communication'],
    'Intermediate',
    10000,
  ],
  ['IELTS Preparation', 'Reach your band score', 'english', ['english', 'ielts'], 'Intermediate', 19000],
  [
    'English Grammar Made Easy',
    'Clear rules, lots of practice',
    'english',
    ['english', 'grammar'],
    'Beginner',
    0,
  ],
  ['French for Beginners', 'Speak from day one', 'french', ['french'], 'Beginner', 9000],
  [
    'Intermediate French Conversation',
    'Fluency through dialogue',
    'french',
    ['french', 'conversation'],
    'Intermediate',
    13000,
  ],
  [
    'Public Speaking',
    'Confident talks for any audience',
    'business',
    ['communication', 'speaking'],
    'Beginner',
    7500,
  ],
  [
    'Leadership Skills',
    'Lead teams that deliver',
    'business',
    ['leadership', 'management'],
    'Intermediate',
    20000,
  ],
  [
    'Data Structures and Algorithms',
    'Think like a computer scientist',
    'programming',
    ['algorithms', 'programming'],
    'Advanced',
    30000,
  ],
];

/**
 * The demo catalog: a category tree and 40 courses (36 published, 4 drafts) with sections and
 * lessons, spread over the given instructors. Idempotent: does nothing when demo courses exist.
 */
export async function seedDemoCatalog(
  db: Db,
  instructors: SeedInstructor[],
): Promise<{ categories: number; courses: number }> {
  const [existing] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(courses)
    .where(sql`${courses.slug} like 'demo-%'`);
  if ((existing?.n ?? 0) > 0 || instructors.length === 0) return { categories: 0, courses: 0 };
  return db.transaction(async (tx) => {
    const bySlug = new Map<string, number>();
    for (const [i, parent] of TREE.entries()) {
      const [p] = await tx
        .insert(categories)
        .values({ name: parent.name, slug: parent.slug, position: i })
        .onConflictDoNothing()
        .returning();
      const parentId =
        p?.id ?? (await tx.select().from(categories).where(eq(categories.slug, parent.slug)))[0]!.id;
      bySlug.set(parent.slug, parentId);
      for (const [j, [name, slug]] of parent.children.entries()) {
        const [c] = await tx
          .insert(categories)
          .values({ name, slug, parentId, position: j })
          .onConflictDoNothing()
          .returning();
        bySlug.set(
          slug,
          c?.id ?? (await tx.select().from(categories).where(eq(categories.slug, slug)))[0]!.id,
        );
      }
    }
    for (const [i, [title, subtitle, category, courseTags, difficulty, price]] of DEMO.entries()) {
      const owner = instructors[i % instructors.length]!;
      const published = i % 10 !== 9;
      const [course] = await tx
        .insert(courses)
        .values({
          slug: `demo-${title
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, '-')
            .replace(/-$/, '')}`,
          title,
          subtitle,
          description: `# ${title}\n\n${subtitle}. A hands-on course with short lessons, exercises and a final project.`,
          categoryId: bySlug.get(category) ?? null,
          tags: courseTags,
          difficulty,
          priceMinor: price * 100,
          currency: 'NGN',
          ownerId: owner.userId,
          instructorName: owner.name,
          status: published ? 'published' : 'draft',
          publishedAt: published ? sql`now() - make_interval(days => ${40 - i})` : null,
          ratingAvg: published ? Math.round((3.6 + ((i * 37) % 14) / 10) * 100) / 100 : 0,
          ratingCount: published ? 5 + ((i * 53) % 200) : 0,
          enrollmentCount: published ? (i * 97) % 1500 : 0,
        } as typeof courses.$inferInsert)
        .returning();
      await tx
        .insert(courseInstructors)
        .values({ courseId: course!.id, userId: owner.userId, role: 'owner' });
      const sectionCount = 2 + (i % 3);
      for (let s = 0; s < sectionCount; s++) {
        const [section] = await tx
          .insert(sections)
          .values({ courseId: course!.id, title: `Part ${s + 1}`, position: s })
          .returning();
        const lessonCount = 3 + ((i + s) % 3);
        for (let l = 0; l < lessonCount; l++) {
          await tx.insert(lessons).values({
            courseId: course!.id,
            sectionId: section!.id,
            title: `Lesson ${s + 1}.${l + 1}`,
            type: l === 0 ? 'video' : l % 3 === 2 ? 'quiz' : 'text',
            position: l,
            durationMinutes: 5 + ((i + s + l) % 4) * 5,
            isPreview: s === 0 && l === 0,
            body: `## Lesson ${s + 1}.${l + 1}\n\nNotes for this lesson of *${title}*.`,
          });
        }
      }
      await recomputeCourseDuration(tx, course!.id);
      await refreshSearchVector(tx, course!.id);
      for (const tag of courseTags) {
        await tx
          .insert(tags)
          .values({ name: tag, courseCount: 1 })
          .onConflictDoUpdate({ target: tags.name, set: { courseCount: sql`${tags.courseCount} + 1` } });
      }
    }
    return { categories: bySlug.size, courses: DEMO.length };
  });
}

/** A deterministic pseudo-random pick per generated row `g`; `salt` decorrelates the columns. */
const hashOf = (salt: number) => sql.raw(`(hashint4(g + ${salt * 1_000_003}) & 2147483647)`);
const pick = (words: string[], salt: number) =>
  sql`(${sql.param(words)}::text[])[1 + ${hashOf(salt)} % ${words.length}]`;

/**
 * Generates `count` published courses for benchmarks, in batches of `batchSize` rows made by one
 * INSERT ... SELECT over generate_series each, then their search documents. Reports progress.
 * Titles, subtitles, descriptions and tags come from catalog.seed.vocabulary.ts; the topic is
 * drawn with a mild skew towards the first (most popular) topics.
 */
export async function generateCourses(
  db: Db,
  options: {
    count: number;
    instructors: SeedInstructor[];
    batchSize?: number;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<number> {
  const { count, instructors } = options;
  const batchSize = options.batchSize ?? 2000;
  const allCategories = await db.select({ id: categories.id, slug: categories.slug }).from(categories);
  const idBySlug = new Map(allCategories.map((c) => [c.slug, c.id]));
  // Each topic's category; topics outside the demo tree stay uncategorised.
  const topicCategory = TOPICS.map((t) => (t.category ? (idBySlug.get(t.category) ?? null) : null));
  const run = Date.now().toString(36);
  // Arrays go in as single parameters (sql.param); a plain interpolation would expand to a list.
  let done = 0;
  while (done < count) {
    const n = Math.min(batchSize, count - done);
    const start = done;
    const inserted = await db.execute(sql`
      insert into catalog.courses (slug, title, subtitle, description, category_id, tags, difficulty, language,
        price_minor, currency, owner_id, instructor_name, status, published_at, duration_minutes,
        rating_avg, rating_count, enrollment_count)
      select
        'gen-' || ${run} || '-' || g,
        ${pick(LEVELS, 1)} || ' ' || topic || ' ' || ${pick(SUFFIXES, 2)},
        ${pick(SUBTITLE_OPENERS, 3)} || ' ' || ${pick(FOCUS, 4)} || ', ' || ${pick(FOCUS, 5)} || ' and ' || ${pick(FOCUS, 6)},
        ${pick(DESCRIPTION_INTROS, 7)} || ' ' || topic || '. ' || ${pick(DESCRIPTION_BODIES, 8)} || ' '
          || ${pick(DESCRIPTION_OUTCOMES, 9)},
        category_id,
        array[tag, replace(${pick(FOCUS, 4)}, ' ', '-')],
        (array['Beginner','Intermediate','Advanced']::catalog.difficulty[])[1 + ${hashOf(10)} % 3],
        (array['en','en','en','en','en','fr','es','pt','de'])[1 + ${hashOf(11)} % 9],
        case when ${hashOf(12)} % 10 = 0 then 0 else (${hashOf(13)} % 500) * 100 end,
        'NGN',
        (${sql.param(instructors.map((i) => i.userId))}::int[])[1 + g % ${instructors.length}],
        (${sql.param(instructors.map((i) => i.name))}::text[])[1 + g % ${instructors.length}],
        'published',
        now() - make_interval(mins => g),
        30 + ${hashOf(14)} % 600,
        round((3 + (${hashOf(15)} % 21) / 10.0)::numeric, 2),
        ${hashOf(16)} % 500,
        ${hashOf(17)} % 5000
      from (
        select g, (${sql.param(TOPICS.map((t) => t.name))}::text[])[t] as topic,
          (${sql.param(TOPICS.map((t) => t.tag))}::text[])[t] as tag,
          (${sql.param(topicCategory)}::int[])[t] as category_id
        from (
          select g, 1 + least(${TOPICS.length - 1},
            floor(${TOPICS.length} * power(${hashOf(0)} / 2147483648.0, 1.5)))::int as t
          from generate_series(${start + 1}::int, ${start + n}::int) g
        ) drawn
      ) x
      returning id`);
    const ids = (inserted as unknown as { rows: Array<{ id: number }> }).rows.map((r) => r.id);
    if (ids.length) await refreshSearchVectorsInRange(db, Math.min(...ids), Math.max(...ids));
    done += n;
    options.onProgress?.(done, count);
  }
  // Fresh statistics so the planner picks the indexes (PGlite has no autovacuum).
  await db.execute(sql`vacuum analyze catalog.courses`);
  return done;
}
