import type { Tx } from '../../platform/db.ts';
import { Conflict, Forbidden, NotFound, ValidationError, type ErrorDetail } from '../../platform/errors.ts';
import type { Principal } from '../../platform/http/auth.ts';
import type { Platform } from '../../platform/platform.ts';
import { catalogCache } from './catalog.cache.ts';
import * as curriculumRepo from './catalog.curriculum.repository.ts';
import type { LessonRow, SectionRow } from './catalog.curriculum.repository.ts';
import type {
  CreateLessonInput,
  LessonResult,
  ReorderInput,
  UpdateLessonInput,
} from './catalog.curriculum.schemas.ts';
import * as coursesRepo from './catalog.courses.repository.ts';
import { LESSON_ADDED, type LessonAdded } from './catalog.events.ts';
import { coursePolicy, type LessonAccess, type LessonAccessCheck } from './catalog.policy.ts';
import * as repo from './catalog.repository.ts';
import type { CourseRow } from './catalog.repository.ts';

export interface CurriculumDeps {
  platform: Pick<Platform, 'db' | 'cache' | 'events'>;
}

/** A lesson as `GET /api/lessons/{id}` shows it: why it is locked and, under drip, when it opens. */
export type LessonView = LessonResult & {
  lockReason?: 'not_enrolled' | 'not_released';
  availableAt?: string;
};

const NOT_ENROLLED: LessonAccess = { status: 'not_enrolled' };

const sectionOut = (s: SectionRow) => ({
  sectionId: s.id,
  courseId: s.courseId,
  title: s.title,
  position: s.position,
});

/** A lesson for the API; body and resources only when the caller may read them. */
function lessonOut(l: LessonRow, withBody: boolean): LessonResult {
  return {
    lessonId: l.id,
    courseId: l.courseId,
    sectionId: l.sectionId,
    title: l.title,
    type: l.type,
    position: l.position,
    durationMinutes: l.durationMinutes,
    isPreview: l.isPreview,
    releaseAfterDays: l.releaseAfterDays,
    releaseAt: l.releaseAt ? l.releaseAt.toISOString() : null,
    locked: !withBody,
    ...(withBody ? { body: l.body, resources: l.resources } : {}),
    createdAt: l.createdAt.toISOString(),
    updatedAt: l.updatedAt.toISOString(),
  };
}

const clamp = (position: number | undefined, length: number) =>
  position === undefined ? length : Math.min(position, length);

const lastLesson = () =>
  new Conflict('A published course must keep at least one lesson; archive the course instead');

/** Sections and lessons of a course: ordered, gap-free, edited one course-lock at a time. */
export function createCurriculumService({ platform }: CurriculumDeps) {
  const { db } = platform;
  // Nobody is enrolled until the enrollment module plugs its check in.
  let checkLessonAccess: LessonAccessCheck = async () => NOT_ENROLLED;

  /**
   * Runs `work` in a transaction holding the course's row lock, after checking the caller may
   * edit it (hidden courses are 404 to non-editors, visible ones 403). Caches are dropped after
   * the commit, so no stale page is served once the response is sent.
   */
  async function editCourse<T>(
    principal: Principal,
    courseId: number,
    work: (tx: Tx, course: CourseRow) => Promise<T>,
  ): Promise<T> {
    const result = await db.transaction(async (tx) => {
      const course = await repo.lockCourse(tx, courseId);
      if (!course) throw new NotFound('Course not found');
      const instructorIds = await repo.listCourseInstructorIds(tx, courseId);
      if (!coursePolicy.canEdit(principal, course, instructorIds)) {
        if (!coursePolicy.canSee(principal, course, instructorIds)) throw new NotFound('Course not found');
        throw new Forbidden('Only the course’s instructors and admins can change its curriculum');
      }
      return work(tx, course);
    });
    await catalogCache.invalidateCourse(platform.cache, courseId);
    return result;
  }

  async function courseIdOf(idOrSlug: string) {
    const course = await repo.findCourseByIdOrSlug(db, idOrSlug);
    if (!course) throw new NotFound('Course not found');
    return course.id;
  }

  /** Resolves a section's course, then re-reads the section under the course lock. */
  async function editSection<T>(
    principal: Principal,
    sectionId: number,
    work: (tx: Tx, course: CourseRow, section: SectionRow) => Promise<T>,
  ): Promise<T> {
    const found = await curriculumRepo.findSection(db, sectionId);
    if (!found) throw new NotFound('Section not found');
    return editCourse(principal, found.courseId, async (tx, course) => {
      const section = await curriculumRepo.findSection(tx, sectionId);
      if (!section) throw new NotFound('Section not found'); // deleted while we waited for the lock
      return work(tx, course, section);
    });
  }

  async function editLesson<T>(
    principal: Principal,
    lessonId: number,
    work: (tx: Tx, course: CourseRow, lesson: LessonRow) => Promise<T>,
  ): Promise<T> {
    const found = await curriculumRepo.findLesson(db, lessonId);
    if (!found) throw new NotFound('Lesson not found');
    return editCourse(principal, found.courseId, async (tx, course) => {
      const lesson = await curriculumRepo.findLesson(tx, lessonId);
      if (!lesson) throw new NotFound('Lesson not found');
      return work(tx, course, lesson);
    });
  }

  async function outline(tx: Tx, courseId: number) {
    const [sectionRows, lessonRows] = await Promise.all([
      curriculumRepo.listSections(tx, courseId),
      curriculumRepo.listLessonsInOrder(tx, courseId),
    ]);
    return {
      courseId,
      sections: sectionRows.map((s) => ({
        sectionId: s.id,
        title: s.title,
        position: s.position,
        lessons: lessonRows
          .filter((l) => l.sectionId === s.id)
          .map((l) => ({ lessonId: l.lessonId, title: l.title, position: l.position })),
      })),
    };
  }

  return {
    /** Appends a section, or inserts it at `position` and shifts the later ones down. */
    async createSection(
      principal: Principal,
      courseRef: string,
      input: { title: string; position?: number },
    ) {
      const courseId = await courseIdOf(courseRef);
      return editCourse(principal, courseId, async (tx) => {
        const position = clamp(input.position, await curriculumRepo.countSections(tx, courseId));
        await curriculumRepo.shiftSections(tx, courseId, position, 1);
        return sectionOut(await curriculumRepo.insertSection(tx, { courseId, title: input.title, position }));
      });
    },

    async renameSection(principal: Principal, sectionId: number, title: string) {
      return editSection(principal, sectionId, async (tx, _course, section) =>
        sectionOut(await curriculumRepo.updateSectionTitle(tx, section.id, title)),
      );
    },

    /** Deletes a section with its lessons; a published course must keep at least one lesson. */
    async deleteSection(principal: Principal, sectionId: number) {
      return editSection(principal, sectionId, async (tx, course, section) => {
        if (course.status === 'published') {
          const [inSection, inCourse] = await Promise.all([
            curriculumRepo.countLessonsInSection(tx, section.id),
            curriculumRepo.countLessonsInCourse(tx, course.id),
          ]);
          if (inSection > 0 && inSection === inCourse) throw lastLesson();
        }
        await curriculumRepo.deleteSection(tx, section.id);
        await curriculumRepo.shiftSections(tx, course.id, section.position, -1);
        await repo.recomputeCourseDuration(tx, course.id);
        return { message: 'Section deleted' };
      });
    },

    /** Adds a lesson; on a published course, tells subscribers (seed 004's LessonAdded). */
    async createLesson(principal: Principal, sectionId: number, input: CreateLessonInput) {
      return editSection(principal, sectionId, async (tx, course, section) => {
        const position = clamp(input.position, await curriculumRepo.countLessonsInSection(tx, section.id));
        await curriculumRepo.shiftLessons(tx, section.id, position, 1);
        const lesson = await curriculumRepo.insertLesson(tx, {
          courseId: course.id,
          sectionId: section.id,
          title: input.title,
          type: input.type,
          position,
          durationMinutes: input.durationMinutes,
          isPreview: input.isPreview,
          body: input.body,
          resources: input.resources,
          releaseAfterDays: input.releaseAfterDays ?? null,
          releaseAt: input.releaseAt ? new Date(input.releaseAt) : null,
        });
        await repo.recomputeCourseDuration(tx, course.id);
        if (course.status === 'published') {
          await platform.events.publish<LessonAdded>(tx, LESSON_ADDED, {
            courseId: course.id,
            lessonId: lesson.id,
            title: lesson.title,
            courseTitle: course.title,
          });
        }
        return lessonOut(lesson, true);
      });
    },

    /**
     * One lesson. The body and resources for editors, for preview lessons of a published course, and
     * for enrolled students once the lesson is released (drip); others see it locked, with why.
     */
    async getLesson(principal: Principal | undefined, lessonId: number): Promise<LessonView> {
      const lesson = await curriculumRepo.findLesson(db, lessonId);
      if (!lesson) throw new NotFound('Lesson not found');
      const course = await repo.findCourseByIdOrSlug(db, lesson.courseId);
      if (!course) throw new NotFound('Lesson not found');
      const instructorIds = await repo.listCourseInstructorIds(db, course.id);
      const visible = coursePolicy.canSee(principal, course, instructorIds);
      if (visible && coursePolicy.canReadLessonBody(principal, course, instructorIds, lesson.isPreview)) {
        return lessonOut(lesson, true);
      }
      const access = principal
        ? await checkLessonAccess(principal.userId, {
            lessonId: lesson.id,
            courseId: lesson.courseId,
            isPreview: lesson.isPreview,
            releaseAfterDays: lesson.releaseAfterDays,
            releaseAt: lesson.releaseAt,
          })
        : NOT_ENROLLED;
      const enrolled = access.status !== 'not_enrolled';
      if (!visible && !(enrolled && coursePolicy.staysOpenToEnrolled(course))) {
        throw new NotFound('Lesson not found');
      }
      if (access.status === 'open') return lessonOut(lesson, true);
      if (access.status === 'not_released') {
        return {
          ...lessonOut(lesson, false),
          lockReason: 'not_released',
          availableAt: access.availableAt.toISOString(),
        };
      }
      return { ...lessonOut(lesson, false), lockReason: 'not_enrolled' };
    },

    /** For the enrollment module: lets enrolled students read lesson bodies, respecting drip. */
    setLessonAccessCheck(check: LessonAccessCheck) {
      checkLessonAccess = check;
    },

    /**
     * A course with its sections and their lessons in order, bodies included, or null: for the
     * enrollment module, which decides what of it a student may read.
     */
    async getCourseContent(courseId: number) {
      const course = await repo.findCourseByIdOrSlug(db, courseId);
      if (!course) return null;
      const [sectionRows, lessonRows] = await Promise.all([
        curriculumRepo.listSections(db, course.id),
        coursesRepo.listLessonContent(db, course.id),
      ]);
      return {
        courseId: course.id,
        title: course.title,
        status: course.status,
        sections: sectionRows.map((s) => ({
          sectionId: s.id,
          title: s.title,
          position: s.position,
          lessons: lessonRows.filter((l) => l.sectionId === s.id).map((l) => lessonOut(l, true)),
        })),
      };
    },

    /** Changes any lesson field but its place (use reorder for that). */
    async updateLesson(principal: Principal, lessonId: number, input: UpdateLessonInput) {
      return editLesson(principal, lessonId, async (tx, course, lesson) => {
        const releaseAfterDays =
          input.releaseAfterDays === undefined ? lesson.releaseAfterDays : input.releaseAfterDays;
        const releaseAt =
          input.releaseAt === undefined
            ? lesson.releaseAt
            : input.releaseAt === null
              ? null
              : new Date(input.releaseAt);
        if (releaseAfterDays !== null && releaseAt !== null) {
          const stored = input.releaseAt === undefined ? 'releaseAt' : 'releaseAfterDays';
          throw new ValidationError('Invalid input data', [
            {
              field: input.releaseAt === undefined ? 'body.releaseAfterDays' : 'body.releaseAt',
              message: `releaseAfterDays and releaseAt are mutually exclusive; set ${stored} to null`,
            },
          ]);
        }
        const { releaseAt: _ignored, ...rest } = input;
        const updated = await curriculumRepo.updateLesson(tx, lesson.id, {
          ...rest,
          ...(input.releaseAt !== undefined ? { releaseAt } : {}),
        });
        if (input.durationMinutes !== undefined) await repo.recomputeCourseDuration(tx, course.id);
        return lessonOut(updated, true);
      });
    },

    /** Deletes a lesson and closes the gap; a published course must keep at least one lesson. */
    async deleteLesson(principal: Principal, lessonId: number) {
      return editLesson(principal, lessonId, async (tx, course, lesson) => {
        if (course.status === 'published' && (await curriculumRepo.countLessonsInCourse(tx, course.id)) <= 1)
          throw lastLesson();
        await curriculumRepo.deleteLesson(tx, lesson.id);
        await curriculumRepo.shiftLessons(tx, lesson.sectionId, lesson.position, -1);
        await repo.recomputeCourseDuration(tx, course.id);
        return { message: 'Lesson deleted' };
      });
    },

    /**
     * Applies a complete new order of sections and lessons (lessons may change section). The
     * order must name every section and lesson of the course exactly once, and nothing else.
     */
    async reorder(principal: Principal, courseRef: string, input: ReorderInput) {
      const courseId = await courseIdOf(courseRef);
      return editCourse(principal, courseId, async (tx) => {
        const [sectionRows, lessonIds] = await Promise.all([
          curriculumRepo.listSections(tx, courseId),
          curriculumRepo.listLessonIds(tx, courseId),
        ]);
        const details = validateOrder(
          input,
          sectionRows.map((s) => s.id),
          lessonIds,
        );
        if (details.length > 0) throw new ValidationError('Invalid curriculum order', details);
        await curriculumRepo.setSectionPositions(
          tx,
          input.sections.map((s, position) => ({ id: s.sectionId, position })),
        );
        await curriculumRepo.setLessonPlaces(
          tx,
          input.sections.flatMap((s) =>
            s.lessonIds.map((id, position) => ({ id, sectionId: s.sectionId, position })),
          ),
        );
        return outline(tx, courseId);
      });
    },

    /** What the enrollment and progress modules need to decide whether a lesson is open to a student. */
    async getLessonAccessInfo(lessonId: number) {
      const row = await curriculumRepo.findLessonWithCourse(db, lessonId);
      if (!row) return null;
      const { lesson } = row;
      return {
        lessonId: lesson.id,
        courseId: lesson.courseId,
        courseStatus: row.courseStatus,
        sectionId: lesson.sectionId,
        isPreview: lesson.isPreview,
        releaseAfterDays: lesson.releaseAfterDays,
        releaseAt: lesson.releaseAt,
        type: lesson.type,
        durationMinutes: lesson.durationMinutes,
      };
    },

    /** A course's lessons in curriculum order (section, then lesson position). */
    async listCourseLessons(courseId: number) {
      const rows = await curriculumRepo.listLessonsInOrder(db, courseId);
      return rows.map(({ title: _title, ...rest }) => rest);
    },
  };
}
export type CurriculumService = ReturnType<typeof createCurriculumService>;

/** Every problem with a proposed order, each naming the field it concerns. */
function validateOrder(input: ReorderInput, sectionIds: number[], lessonIds: number[]): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const courseSections = new Set(sectionIds);
  const courseLessons = new Set(lessonIds);
  const seenSections = new Set<number>();
  const seenLessons = new Set<number>();
  input.sections.forEach((s, i) => {
    const field = `body.sections.${i}`;
    if (!courseSections.has(s.sectionId)) {
      details.push({
        field: `${field}.sectionId`,
        message: `Section ${s.sectionId} is not part of this course`,
      });
    } else if (seenSections.has(s.sectionId)) {
      details.push({
        field: `${field}.sectionId`,
        message: `Section ${s.sectionId} is listed more than once`,
      });
    }
    seenSections.add(s.sectionId);
    s.lessonIds.forEach((id, j) => {
      if (!courseLessons.has(id)) {
        details.push({
          field: `${field}.lessonIds.${j}`,
          message: `Lesson ${id} is not part of this course`,
        });
      } else if (seenLessons.has(id)) {
        details.push({ field: `${field}.lessonIds.${j}`, message: `Lesson ${id} is listed more than once` });
      }
      seenLessons.add(id);
    });
  });
  const missingSections = sectionIds.filter((id) => !seenSections.has(id));
  if (missingSections.length > 0) {
    details.push({ field: 'body.sections', message: `Missing sections: ${missingSections.join(', ')}` });
  }
  const missingLessons = lessonIds.filter((id) => !seenLessons.has(id));
  if (missingLessons.length > 0) {
    details.push({ field: 'body.sections', message: `Missing lessons: ${missingLessons.join(', ')}` });
  }
  return details;
}
