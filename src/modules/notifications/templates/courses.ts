import { z } from 'zod';
import { defineTemplate } from './define.ts';
import { html } from './html.ts';
import { button, paragraph } from './layout.ts';

const id = z.number().int().positive();
const url = z.string().url();

/** Seed 000's enrollment confirmation: the student may start the course now. */
export const enrollmentConfirmation = defineTemplate(
  z.object({ enrollmentId: id, courseId: id, courseTitle: z.string(), courseUrl: url }),
  {
    name: 'enrollment_confirmation',
    category: 'course_updates',
    inApp: (v) => ({
      title: `You are enrolled in ${v.courseTitle}`,
      body: `Your enrollment in “${v.courseTitle}” is confirmed. You can start learning now.`,
    }),
    subject: (v) => `You are enrolled in ${v.courseTitle}`,
    reason: (v) => `You receive this email because you enrolled in “${v.courseTitle}”.`,
    text: (v, ctx) =>
      [
        `Hello ${ctx.recipientName},`,
        `Your enrollment in “${v.courseTitle}” is confirmed. You can start learning now.`,
        `Open the course: ${v.courseUrl}`,
      ].join('\n\n'),
    html: (v, ctx) =>
      html`${paragraph(`Hello ${ctx.recipientName},`)}${paragraph(
        `Your enrollment in “${v.courseTitle}” is confirmed. You can start learning now.`,
      )}${button('Start the course', v.courseUrl)}`,
  },
);

/** Seed 004's `LessonAdded`, told to every current student of the course. */
export const newLesson = defineTemplate(
  z.object({ courseId: id, courseTitle: z.string(), lessonId: id, lessonTitle: z.string(), lessonUrl: url }),
  {
    name: 'new_lesson',
    category: 'course_updates',
    inApp: (v) => ({
      title: `New lesson in ${v.courseTitle}`,
      body: `“${v.lessonTitle}” was added to “${v.courseTitle}”.`,
    }),
    subject: (v) => `New lesson in ${v.courseTitle}: ${v.lessonTitle}`,
    reason: (v) => `You receive this email because you are enrolled in “${v.courseTitle}”.`,
    text: (v, ctx) =>
      [
        `Hello ${ctx.recipientName},`,
        `A new lesson, “${v.lessonTitle}”, was added to “${v.courseTitle}”.`,
        `Open the lesson: ${v.lessonUrl}`,
      ].join('\n\n'),
    html: (v, ctx) =>
      html`${paragraph(`Hello ${ctx.recipientName},`)}${paragraph(
        `A new lesson, “${v.lessonTitle}”, was added to “${v.courseTitle}”.`,
      )}${button('Open the lesson', v.lessonUrl)}`,
  },
);

/** To the course's owner when it goes live. */
export const coursePublished = defineTemplate(
  z.object({ courseId: id, courseTitle: z.string(), courseUrl: url }),
  {
    name: 'course_published',
    category: 'course_updates',
    inApp: (v) => ({
      title: `${v.courseTitle} is published`,
      body: `“${v.courseTitle}” is now live in the catalog and open for enrollment.`,
    }),
    subject: (v) => `Your course is live: ${v.courseTitle}`,
    reason: (v) => `You receive this email because you own the course “${v.courseTitle}”.`,
    text: (v, ctx) =>
      [
        `Hello ${ctx.recipientName},`,
        `“${v.courseTitle}” is now live in the catalog and open for enrollment.`,
        `See it as students do: ${v.courseUrl}`,
      ].join('\n\n'),
    html: (v, ctx) =>
      html`${paragraph(`Hello ${ctx.recipientName},`)}${paragraph(
        `“${v.courseTitle}” is now live in the catalog and open for enrollment.`,
      )}${button('View the course', v.courseUrl)}`,
  },
);

/** The daily job's nudge after days without activity in a course. */
export const inactivityReminder = defineTemplate(
  z.object({
    enrollmentId: id,
    courseId: id,
    courseTitle: z.string(),
    courseUrl: url,
    inactiveDays: z.number().int().positive(),
  }),
  {
    name: 'inactivity_reminder',
    category: 'reminders',
    inApp: (v) => ({
      title: `Pick up ${v.courseTitle} again`,
      body: `It has been ${v.inactiveDays} days since your last activity in “${v.courseTitle}”. A few minutes today keep you on track.`,
    }),
    subject: (v) => `Pick up where you left off: ${v.courseTitle}`,
    reason: (v) =>
      `You receive this reminder because you are enrolled in “${v.courseTitle}” and have not studied for a while.`,
    text: (v, ctx) =>
      [
        `Hello ${ctx.recipientName},`,
        `It has been ${v.inactiveDays} days since your last activity in “${v.courseTitle}”. A few minutes today keep you on track.`,
        `Continue the course: ${v.courseUrl}`,
      ].join('\n\n'),
    html: (v, ctx) =>
      html`${paragraph(`Hello ${ctx.recipientName},`)}${paragraph(
        `It has been ${v.inactiveDays} days since your last activity in “${v.courseTitle}”. A few minutes today keep you on track.`,
      )}${button('Continue the course', v.courseUrl)}`,
  },
);
