/** Events the catalog publishes (inside the transaction of the change). */
export const COURSE_PUBLISHED = 'catalog.course.published';
export const COURSE_UPDATED = 'catalog.course.updated';
export const COURSE_ARCHIVED = 'catalog.course.archived';
/** Seed 004's `LessonAdded`: a lesson was added to a published course. */
export const LESSON_ADDED = 'catalog.lesson.added';

export interface CourseEvent {
  courseId: number;
  ownerId: number;
  title: string;
  slug: string;
}

export interface LessonAdded {
  courseId: number;
  lessonId: number;
  title: string;
  courseTitle: string;
}
