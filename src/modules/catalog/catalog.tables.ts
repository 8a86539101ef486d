import { sql } from 'drizzle-orm';
import {
  boolean,
  customType,
  index,
  integer,
  jsonb,
  numeric,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  varchar,
} from 'drizzle-orm/pg-core';

export const catalog = pgSchema('catalog');

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

export const difficulty = catalog.enum('difficulty', ['Beginner', 'Intermediate', 'Advanced']);
export const courseStatus = catalog.enum('course_status', ['draft', 'published', 'archived']);
export const lessonType = catalog.enum('lesson_type', ['video', 'text', 'document', 'quiz', 'live']);

/** Admin-managed category tree. */
export const categories = catalog.table(
  'categories',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    parentId: integer('parent_id'),
    name: varchar('name', { length: 100 }).notNull(),
    slug: varchar('slug', { length: 120 }).notNull().unique(),
    position: integer('position').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('categories_parent_idx').on(t.parentId, t.position)],
);

/**
 * A course. `owner_id` and `instructor_name` refer to identity users without a foreign key: modules
 * own their data, and the name is a denormalised copy for listing and search, kept in step by events.
 * `search_vector` is rebuilt by the repository on every write that touches searchable text.
 */
export const courses = catalog.table(
  'courses',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    slug: varchar('slug', { length: 140 }).notNull().unique(),
    title: varchar('title', { length: 200 }).notNull(),
    subtitle: varchar('subtitle', { length: 300 }),
    description: text('description').notNull().default(''),
    categoryId: integer('category_id').references(() => categories.id, { onDelete: 'set null' }),
    tags: text('tags')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    difficulty: difficulty('difficulty').notNull().default('Beginner'),
    language: varchar('language', { length: 35 }).notNull().default('en'),
    priceMinor: integer('price_minor').notNull().default(0),
    currency: varchar('currency', { length: 3 }).notNull().default('NGN'),
    coverImageKey: varchar('cover_image_key', { length: 200 }),
    coverImageUrl: varchar('cover_image_url', { length: 2048 }),
    ownerId: integer('owner_id').notNull(),
    instructorName: varchar('instructor_name', { length: 100 }).notNull(),
    status: courseStatus('status').notNull().default('draft'),
    publishedAt: timestamp('published_at', { withTimezone: true }),
    archivedAt: timestamp('archived_at', { withTimezone: true }),
    durationMinutes: integer('duration_minutes').notNull().default(0),
    ratingAvg: numeric('rating_avg', { precision: 3, scale: 2, mode: 'number' }).notNull().default(0),
    ratingCount: integer('rating_count').notNull().default(0),
    /** Popularity: kept by the enrollment module through events. */
    enrollmentCount: integer('enrollment_count').notNull().default(0),
    searchVector: tsvector('search_vector'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  // Descending keys are NULLS FIRST, as `ORDER BY x DESC` means; drizzle's bare .desc() emits
  // NULLS LAST, which the planner cannot use for those sorts (seen in EXPLAIN at 100k courses).
  (t) => [
    index('courses_search_idx').using('gin', t.searchVector),
    index('courses_title_trgm_idx').using('gin', sql`${t.title} gin_trgm_ops`),
    // Exact-title lookups: a search always takes a course whose title is the query among its candidates.
    index('courses_title_lower_idx').on(sql`lower(${t.title})`),
    index('courses_tags_idx').using('gin', t.tags),
    index('courses_published_idx').on(t.status, t.publishedAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index('courses_category_idx').on(t.status, t.categoryId),
    index('courses_difficulty_idx').on(t.status, t.difficulty),
    index('courses_language_idx').on(t.status, t.language),
    index('courses_price_idx').on(t.status, t.priceMinor, t.id),
    index('courses_rating_idx').on(t.status, t.ratingAvg.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index('courses_popular_idx').on(
      t.status,
      t.enrollmentCount.desc().nullsFirst(),
      t.id.desc().nullsFirst(),
    ),
    index('courses_owner_idx').on(t.ownerId),
    index('courses_instructor_trgm_idx').using('gin', sql`${t.instructorName} gin_trgm_ops`),
  ],
);

/** Who teaches a course: its owner and co-instructors. */
export const courseInstructors = catalog.table(
  'course_instructors',
  {
    courseId: integer('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
    userId: integer('user_id').notNull(),
    role: varchar('role', { length: 16 }).notNull().default('co'),
    addedAt: timestamp('added_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.courseId, t.userId] }), index('course_instructors_user_idx').on(t.userId)],
);

/** Courses a student must complete first (enforced by the enrollment and progress modules). */
export const coursePrerequisites = catalog.table(
  'course_prerequisites',
  {
    courseId: integer('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
    requiredCourseId: integer('required_course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.courseId, t.requiredCourseId] })],
);

/** Free tags, normalised (lower case, trimmed), with how many courses use them. */
export const tags = catalog.table(
  'tags',
  {
    name: varchar('name', { length: 50 }).primaryKey(),
    courseCount: integer('course_count').notNull().default(0),
  },
  (t) => [index('tags_name_trgm_idx').using('gin', sql`${t.name} gin_trgm_ops`)],
);

/** Sections (modules) of a course, ordered by a gap-free `position` from 0. */
export const sections = catalog.table(
  'sections',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    courseId: integer('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
    title: varchar('title', { length: 200 }).notNull(),
    position: integer('position').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('sections_course_idx').on(t.courseId, t.position)],
);

/**
 * Lessons, ordered gap-free within their section. Drip: released `release_after_days` after
 * enrollment, or at `release_at`; enforcement belongs to the enrollment module.
 */
export const lessons = catalog.table(
  'lessons',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    courseId: integer('course_id')
      .notNull()
      .references(() => courses.id, { onDelete: 'cascade' }),
    sectionId: integer('section_id')
      .notNull()
      .references(() => sections.id, { onDelete: 'cascade' }),
    title: varchar('title', { length: 200 }).notNull(),
    type: lessonType('type').notNull().default('text'),
    position: integer('position').notNull(),
    durationMinutes: integer('duration_minutes').notNull().default(0),
    isPreview: boolean('is_preview').notNull().default(false),
    body: text('body').notNull().default(''),
    resources: jsonb('resources').$type<Array<{ title: string; url: string }>>().notNull().default([]),
    releaseAfterDays: integer('release_after_days'),
    releaseAt: timestamp('release_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('lessons_section_idx').on(t.sectionId, t.position),
    index('lessons_course_idx').on(t.courseId),
  ],
);
