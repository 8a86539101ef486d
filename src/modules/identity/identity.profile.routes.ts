import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { readSingleFileUpload, registerSingleFileUploads } from '../../platform/http/upload.ts';
import { bearerSecurity, principalOf } from '../../platform/http/auth.ts';
import { errorEnvelopeSchema, responses, successBody } from '../../platform/http/envelope.ts';
import type { RouteContext } from '../../platform/http/route-context.ts';
import { avatarUploadBody, avatarUploaded, publicProfile, userIdParams } from './identity.profile.schemas.ts';
import {
  AVATAR_LINK_SECONDS,
  AVATAR_REDIRECT_MAX_AGE,
  MAX_AVATAR_BYTES,
  type ProfileService,
} from './identity.profile.service.ts';
import { messageResult } from './identity.schemas.ts';

const avatarUpload = { field: 'avatar', maxBytes: MAX_AVATAR_BYTES, label: 'avatar' };

/** Avatar upload and removal, the public avatar redirect and public instructor profiles. */
export function profileRoutes(profiles: ProfileService) {
  return async function routes(app: FastifyInstance, { guard }: RouteContext) {
    // Registered here, inside this plugin, so multipart parsing exists for these routes only.
    await registerSingleFileUploads(app, MAX_AVATAR_BYTES);
    const r = app.withTypeProvider<ZodTypeProvider>();
    const authed = { onRequest: guard.authenticate };

    r.put(
      '/auth/user/avatar',
      {
        ...authed,
        schema: {
          operationId: 'uploadAvatar',
          tags: ['auth'],
          summary: 'Upload my avatar',
          description:
            'Multipart body with one file field `avatar`: a PNG, JPEG or WebP image of at most 2 MB (413 above). The type is decided by the file’s first bytes, never by its name or declared content type; anything else is 415, as is a body that is not multipart. An empty file is 400. The profile’s `avatarUrl` becomes the stable URL `/api/users/{id}/avatar`; the previous upload is deleted.',
          security: bearerSecurity,
          consumes: ['multipart/form-data'],
          body: avatarUploadBody,
          response: responses({ data: avatarUploaded }, [401, 404, 413, 415]),
        },
      },
      async (request) =>
        successBody(
          await profiles.uploadAvatar(
            principalOf(request).userId,
            await readSingleFileUpload(request, avatarUpload),
          ),
        ),
    );

    r.delete(
      '/auth/user/avatar',
      {
        ...authed,
        schema: {
          operationId: 'deleteAvatar',
          tags: ['auth'],
          summary: 'Remove my avatar',
          description:
            'Clears `avatarUrl` (uploaded or external) and deletes the uploaded image. Answers 200 also when there was none.',
          security: bearerSecurity,
          response: responses({ data: messageResult }, [401, 404]),
        },
      },
      async (request) => successBody(await profiles.removeAvatar(principalOf(request).userId)),
    );

    r.get(
      '/users/:id/avatar',
      {
        schema: {
          operationId: 'getUserAvatar',
          tags: ['users'],
          summary: 'A user’s uploaded avatar',
          description: `No sign-in needed. Answers 302 to a signed link of the image, valid ${AVATAR_LINK_SECONDS / 60} minutes (the redirect itself may be cached privately for ${AVATAR_REDIRECT_MAX_AGE} seconds). 404 when the user has no uploaded avatar, is suspended or was deleted.`,
          params: userIdParams,
          response: {
            302: z
              .null()
              .meta({ description: 'Redirect to a short-lived signed URL of the image (Location header)' }),
            400: errorEnvelopeSchema,
            404: errorEnvelopeSchema,
            429: errorEnvelopeSchema,
            500: errorEnvelopeSchema,
          },
        },
      },
      async (request, reply) =>
        reply
          .header('cache-control', `private, max-age=${AVATAR_REDIRECT_MAX_AGE}`)
          .redirect(await profiles.avatarLink(request.params.id), 302),
    );

    r.get(
      '/users/:id',
      {
        schema: {
          operationId: 'getPublicProfile',
          tags: ['users'],
          summary: 'The public profile of an instructor',
          description:
            'No sign-in needed. Shows active instructors and admins only: students, suspended or deleted accounts and unknown ids are all 404, so the route reveals nothing about who studies here. `publishedCourses` stays empty until the catalog module lists them.',
          params: userIdParams,
          response: responses({ data: publicProfile }, [404]),
        },
      },
      async (request) => successBody(await profiles.publicProfile(request.params.id)),
    );
  };
}
