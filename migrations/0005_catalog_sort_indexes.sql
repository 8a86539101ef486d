DROP INDEX "catalog"."courses_published_idx";--> statement-breakpoint
DROP INDEX "catalog"."courses_rating_idx";--> statement-breakpoint
DROP INDEX "catalog"."courses_popular_idx";--> statement-breakpoint
CREATE INDEX "courses_published_idx" ON "catalog"."courses" USING btree ("status","published_at" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "courses_rating_idx" ON "catalog"."courses" USING btree ("status","rating_avg" DESC NULLS FIRST,"id" DESC NULLS FIRST);--> statement-breakpoint
CREATE INDEX "courses_popular_idx" ON "catalog"."courses" USING btree ("status","enrollment_count" DESC NULLS FIRST,"id" DESC NULLS FIRST);